package wxsim

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
)

const textMsg = `{"msgtype":"text","text":{"content":"hi"}}`

func TestRemoteRecorder(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := NewRemoteRecorder(ts.srv.URL+"/", logger)
	if err != nil {
		t.Fatal(err)
	}
	r.RecordInteraction(demo.AppID, "3", "oR", kindText, time.Time{})
	r.AddUserMedia(demo.AppID, "m-remote", PlaceholderImage(), "image/png")
	if got := ts.send(t, "3", "oR", textMsg); got != CodeOK {
		t.Errorf("send after a remote interaction = %d, want 0", got)
	}
	if _, _, err := ts.client.GetMedia(t.Context(), ts.token(t), "m-remote", 1<<20); err != nil {
		t.Errorf("GetMedia of remote user media: %v", err)
	}
	// An explicit time travels too.
	r.RecordInteraction(demo.AppID, "0", "oOld", kindText, simT0.Add(-48*time.Hour))
	if got := ts.send(t, "0", "oOld", textMsg); got != CodeOutOfWindow {
		t.Errorf("send 48 h after a remote interaction = %d, want 45015", got)
	}
	r.RecordInteraction("wxnobody", "0", "oR", kindText, time.Time{})
	if !strings.Contains(logs.String(), "simulator not told") || !strings.Contains(logs.String(), "400") {
		t.Errorf("a rejected report logged %q, want a debug record with the status", logs.String())
	}

	// Nothing listening: no error, one debug record.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	logs.Reset()
	r, err = NewRemoteRecorder(closed.URL, logger)
	if err != nil {
		t.Fatal(err)
	}
	r.RecordInteraction(demo.AppID, "0", "oR", kindText, time.Time{})
	if !strings.Contains(logs.String(), "level=DEBUG") {
		t.Errorf("report to nothing logged %q, want a debug record", logs.String())
	}
	for _, bad := range []string{"", "ftp://x", "127.0.0.1:9100"} {
		if _, err := NewRemoteRecorder(bad, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewRemoteRecorder(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
