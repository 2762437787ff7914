package wxapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// BenchmarkSend measures the client's own cost of a send (allocations,
// time) against a loopback server that answers WeChat's plain ok at once.
func BenchmarkSend(b *testing.B) {
	c := server(b, func(*http.Request, []byte) string { return `{"errcode":0,"errmsg":"ok"}` })
	req := wxapi.SendRequest{ToUser: "oB000123", BusinessID: "0", Message: json.RawMessage(`{"msgtype":"text","text":{"content":"x"}}`)}
	ctx := wxapi.WithTraceParent(context.Background(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(ctx, "ACCESS_TOKEN", req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAnswerLimit checks that an answer longer than the caller's limit is
// refused, whether its length is announced (Content-Length) or not
// (chunked), and that one within it is read whole.
func TestAnswerLimit(t *testing.T) {
	media := bytes.Repeat([]byte{0xff, 0xd8, 'x'}, 40) // 120 bytes, not JSON
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		if r.URL.Query().Get("media_id") == "chunked" {
			_, _ = w.Write(media[:60])
			w.(http.Flusher).Flush() // no Content-Length: chunked
			_, _ = w.Write(media[60:])
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(media)))
		_, _ = w.Write(media)
	}))
	defer hs.Close()
	c, err := wxapi.New(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"sized", "chunked"} {
		got, _, err := c.GetMedia(t.Context(), "TOKEN", id, 120)
		if err != nil || !bytes.Equal(got, media) {
			t.Errorf("%s within the limit: %d bytes, %v", id, len(got), err)
		}
		if _, _, err := c.GetMedia(t.Context(), "TOKEN", id, 119); !errors.Is(err, wxapi.ErrBadResponse) || !strings.Contains(err.Error(), "over 119 bytes") {
			t.Errorf("%s over the limit: %v", id, err)
		}
	}
}
