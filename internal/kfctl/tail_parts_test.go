package kfctl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestResultLineParts: the line of a text sent in parts says how many of
// its parts WeChat accepted; a single message's line has no such field.
func TestResultLineParts(t *testing.T) {
	d := events.ResultData{CommandID: "c-1", Verb: events.VerbSend, AppID: appID, BusinessID: "0", OpenID: user,
		Outcome: events.OutcomeFailed, ErrCode: 45047, ErrMsg: "out of limit", Attempts: 6, Reason: "window",
		Parts: 7, PartsSent: 5, Time: time.Now().UTC()}
	for _, tt := range []struct {
		parts, sent int
		want        string
	}{
		{7, 5, " attempts=6 parts_sent=5/7 reason=window"},
		{0, 0, " attempts=6 reason=window"},
	} {
		d.Parts, d.PartsSent = tt.parts, tt.sent
		body, err := json.Marshal(events.NewResult(d))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		resultLine(&buf, body)
		if !strings.Contains(buf.String(), tt.want) {
			t.Errorf("resultLine(parts %d of %d) = %q, want it to contain %q", tt.sent, tt.parts, buf.String(), tt.want)
		}
	}
}
