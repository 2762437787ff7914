package wxapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// server answers every call with answer and records the last request.
func server(t testing.TB, answer func(r *http.Request, body []byte) string) *wxapi.Client {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer(r, body))
	}))
	t.Cleanup(hs.Close)
	c, err := wxapi.New(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCall(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	c := server(t, func(r *http.Request, body []byte) string {
		got, gotBody = r, body
		switch r.URL.Path {
		case "/ok":
			return `{"kf_list":[],"future_field":1}`
		case "/refused":
			return `{"errcode":45071,"errmsg":"business not exist"}`
		case "/array":
			return `[1,2]`
		}
		return `not json`
	})
	ctx := t.Context()
	raw, err := c.Call(ctx, "TOKEN", http.MethodGet, "/ok", url.Values{"business_id": {"7"}}, nil)
	if err != nil || string(raw) != `{"kf_list":[],"future_field":1}` {
		t.Errorf("Call(/ok) = %s, %v", raw, err)
	}
	if q := got.URL.Query(); q.Get("access_token") != "TOKEN" || q.Get("business_id") != "7" || got.Method != http.MethodGet || len(gotBody) != 0 {
		t.Errorf("request %s %s body %q", got.Method, got.URL, gotBody)
	}
	if _, err := c.Call(ctx, "TOKEN", http.MethodPost, "/ok", nil, []byte(`{"a":1}`)); err != nil || string(gotBody) != `{"a":1}` || got.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("POST body %q, content type %q, %v", gotBody, got.Header.Get("Content-Type"), err)
	}
	_, err = c.Call(ctx, "TOKEN", http.MethodPost, "/refused", nil, []byte(`{}`))
	if !errors.Is(err, &wxapi.APIError{Code: 45071}) {
		t.Errorf("Call(/refused) = %v, want APIError 45071", err)
	}
	for _, p := range []string{"/array", "/text"} {
		_, err := c.Call(ctx, "TOKEN", http.MethodGet, p, nil, nil)
		var tr *wxapi.TransportError
		if !errors.As(err, &tr) || !errors.Is(err, wxapi.ErrBadResponse) {
			t.Errorf("Call(%s) = %v, want a TransportError with ErrBadResponse", p, err)
		}
	}
}

// TestListAllBusinessesPages: a last page of exactly 200 needs one more
// (empty) page to know it is the last.
func TestListAllBusinessesPages(t *testing.T) {
	const total = 400
	var offsets []int
	c := server(t, func(r *http.Request, body []byte) string {
		var req wxapi.ListBusinessesRequest
		json.Unmarshal(body, &req)
		offsets = append(offsets, req.Offset)
		var list []wxapi.Business
		for i := req.Offset; i < total && len(list) < req.Count; i++ {
			list = append(list, wxapi.Business{BusinessID: int64(i + 1), AccountName: fmt.Sprintf("shop_%04d", i)})
		}
		b, _ := json.Marshal(map[string]any{"list": list})
		return string(b)
	})
	all, err := c.ListAllBusinesses(t.Context(), "TOKEN")
	if err != nil || len(all) != total || all[total-1].BusinessID != total {
		t.Fatalf("ListAllBusinesses = %d, %v", len(all), err)
	}
	if fmt.Sprint(offsets) != "[0 200 400]" {
		t.Errorf("offsets = %v", offsets)
	}
}

func TestKFQuery(t *testing.T) {
	if got := wxapi.KFQuery(0, "").Encode(); got != "" {
		t.Errorf("KFQuery(0, \"\") = %q", got)
	}
	if got := wxapi.KFQuery(3, "o1").Encode(); got != "business_id=3&kf_openid=o1" {
		t.Errorf("KFQuery(3, o1) = %q", got)
	}
}
