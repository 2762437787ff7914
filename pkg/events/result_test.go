package events

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// goldenResult is the body the egress published before NewResult existed
// (its own builder, encoded with encoding/json): the wire format is fixed.
const goldenResult = `{"specversion":"1.0","id":"reply-1","source":"/wxkf/wx0123456789abcdef/42/egress","type":"weixin.kf.result.failed","subject":"oUser","time":"2026-11-21T06:30:00.12Z","datacontenttype":"application/json","appid":"wx0123456789abcdef","businessid":"42","data":{"command_id":"reply-1","verb":"send","appid":"wx0123456789abcdef","business_id":"42","openid":"oUser","outcome":"failed","errcode":45015,"errmsg":"response out of time limit \u003c\u0026\u003e","attempts":1,"reason":"window","maybe_delivered":true,"media_id":"M","time":"2026-11-21T06:30:00.12Z"}}`

func goldenResultData() ResultData {
	return ResultData{CommandID: "reply-1", Verb: VerbSend, AppID: testApp, BusinessID: "42", OpenID: "oUser",
		Outcome: OutcomeFailed, ErrCode: 45015, ErrMsg: "response out of time limit <&>", Attempts: 1, Reason: "window",
		MaybeDelivered: true, MediaID: "M", Time: time.Date(2026, 11, 21, 6, 30, 0, 120000000, time.UTC)}
}

func TestNewResultWireFormat(t *testing.T) {
	b, err := json.Marshal(NewResult(goldenResultData()))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != goldenResult {
		t.Errorf("NewResult encodes to\n%s\nwant\n%s", b, goldenResult)
	}
}

func TestParseResult(t *testing.T) {
	ev, err := ParseResult([]byte(goldenResult))
	if err != nil {
		t.Fatal(err)
	}
	if want := NewResult(goldenResultData()); !reflect.DeepEqual(ev, want) {
		t.Errorf("ParseResult = %+v, want %+v", ev, want)
	}
	for _, body := range []string{
		``, `[]`, `{"specversion":"0.3","id":"x","source":"s","type":"weixin.kf.result.failed"}`,
		`{"specversion":"1.0","source":"s","type":"weixin.kf.result.failed"}`,
		`{"specversion":"1.0","id":"x","type":"weixin.kf.result.failed"}`,
		`{"specversion":"1.0","id":"x","source":"s","type":"weixin.kf.message.text"}`,
	} {
		if _, err := ParseResult([]byte(body)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseResult(%s) = %v, want ErrInvalid", body, err)
		}
	}
}
