package schemas_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// The wire contract's example: a send refused because the reply window was
// over.
const failedResult = `{
  "specversion": "1.0",
  "id": "cmd-1",
  "source": "/wxkf/wx0123456789abcdef/0/egress",
  "type": "weixin.kf.result.failed",
  "subject": "oUser",
  "time": "2026-11-21T06:30:00.123456789Z",
  "datacontenttype": "application/json",
  "appid": "wx0123456789abcdef",
  "businessid": "0",
  "data": {
    "command_id": "cmd-1",
    "verb": "send",
    "appid": "wx0123456789abcdef",
    "business_id": "0",
    "openid": "oUser",
    "outcome": "failed",
    "errcode": 45015,
    "errmsg": "response out of time limit or subscription is canceled rid: 6f3c2a1b-0d4e5f60-718293a4",
    "attempts": 1,
    "reason": "window",
    "maybe_delivered": false,
    "media_id": "MEDIA_ID",
    "time": "2026-11-21T06:30:00.123456789Z"
  }
}`

// An image by URL, uploaded and delivered, as Go's encoding/json writes it:
// no reason, no maybe_delivered.
const deliveredResult = `{"specversion":"1.0","id":"cmd-2","source":"/wxkf/wx0123456789abcdef/0/egress","type":"weixin.kf.result.delivered","subject":"oABCDEF-openid_1","time":"2026-11-21T06:30:01.5Z","datacontenttype":"application/json","appid":"wx0123456789abcdef","businessid":"0","data":{"command_id":"cmd-2","verb":"send","appid":"wx0123456789abcdef","business_id":"0","openid":"oABCDEF-openid_1","outcome":"delivered","errcode":0,"errmsg":"ok","attempts":1,"media_id":"MEDIA_ID","time":"2026-11-21T06:30:01.5Z"}}`

// failedWith returns ops turning [failedResult] into a failure of reason
// with errcode code.
func failedWith(reason, code string) []op {
	return []op{set("/data/reason", `"`+reason+`"`), set("/data/errcode", code), del("/data/maybe_delivered"), del("/data/media_id")}
}

func TestValidateResultValid(t *testing.T) {
	business := []op{set("/businessid", `"42"`), set("/source", `"/wxkf/wx0123456789abcdef/42/egress"`), set("/data/business_id", `"42"`)}
	atTime := func(ts string) []op { return []op{set("/time", ts), set("/data/time", ts)} }
	tests := []struct {
		name string
		doc  []byte
	}{
		{"delivered", []byte(deliveredResult)},
		{"delivered with traceparent", mutate(t, deliveredResult, set("/traceparent", `"00-4bf92f3577b34da6a3ce929d0e0e4736-7d3efb1b173fecfa-01"`))},
		{"delivered business 42", mutate(t, deliveredResult, business...)},
		{"delivered typing", mutate(t, deliveredResult, set("/data/verb", `"typing"`), del("/data/media_id"))},
		{"delivered after retries", mutate(t, deliveredResult, set("/data/attempts", `3`))},
		{"delivered, maybe_delivered false", mutate(t, deliveredResult, set("/data/maybe_delivered", `false`))},
		{"delivered at a whole second", mutate(t, deliveredResult, atTime(`"2026-11-21T06:30:01Z"`)...)},
		{"delivered at nanoseconds", mutate(t, deliveredResult, atTime(`"2026-11-21T06:30:01.000000001Z"`)...)},
		{"failed window", []byte(failedResult)},
		{"failed window without maybe_delivered and media_id", mutate(t, failedResult, del("/data/maybe_delivered"), del("/data/media_id"))},
		{"failed malformed", mutate(t, failedResult, append(failedWith("malformed", `-1001`), set("/data/attempts", `0`))...)},
		{"failed malformed without id", mutate(t, failedResult, append(failedWith("malformed", `-1001`), set("/id", `"seq-42"`), set("/data/command_id", `"seq-42"`))...)},
		{"failed unknown_app", mutate(t, failedResult, append(failedWith("unknown_app", `-1002`), set("/data/attempts", `0`))...)},
		{"failed permanent", mutate(t, failedResult, failedWith("permanent", `40003`)...)},
		{"failed window 45047", mutate(t, failedResult, failedWith("window", `45047`)...)},
		{"failed quota", mutate(t, failedResult, failedWith("quota", `45009`)...)},
		{"failed quota before any call", mutate(t, failedResult, append(failedWith("quota", `-1003`), set("/data/attempts", `0`))...)},
		{"failed transient", mutate(t, failedResult, append(failedWith("transient", `-1`), set("/data/attempts", `7`))...)},
		{"failed transient typing", mutate(t, failedResult, append(failedWith("transient", `-1`), set("/data/verb", `"typing"`))...)},
		{"failed token", mutate(t, failedResult, failedWith("token", `40001`)...)},
		{"failed media", mutate(t, failedResult, append(failedWith("media", `-1005`), set("/data/attempts", `0`))...)},
		{"failed media upload", mutate(t, failedResult, failedWith("media", `40005`)...)},
		{"failed duplicate_id", mutate(t, failedResult, append(failedWith("duplicate_id", `-1007`), set("/data/attempts", `0`))...)},
		{"failed expired", mutate(t, failedResult, append(failedWith("expired", `-1003`), set("/data/attempts", `0`))...)},
		{"failed maybe_delivered", mutate(t, failedResult, append(failedWith("maybe_delivered", `-1004`), set("/data/maybe_delivered", `true`))...)},
		{"failed maybe_delivered typing", mutate(t, failedResult, append(failedWith("maybe_delivered", `-1`), set("/data/maybe_delivered", `true`), set("/data/verb", `"typing"`))...)},
		{"failed business 42", mutate(t, failedResult, business...)},
		{"delivered in parts", mutate(t, deliveredResult, set("/data/parts", `3`), set("/data/parts_sent", `3`), set("/data/attempts", `3`))},
		{"delivered in part, budget cut", mutate(t, deliveredResult, set("/data/parts", `3`), set("/data/parts_sent", `2`), set("/data/budget_cut", `"truncate"`))},
		{"failed in parts after one", mutate(t, failedResult, append(failedWith("window", `45047`), set("/data/parts", `3`), set("/data/parts_sent", `1`))...)},
		{"failed in parts before any", mutate(t, failedResult, append(failedWith("window", `45015`), set("/data/parts", `3`))...)},
		{"failed maybe_delivered in parts", mutate(t, failedResult, append(failedWith("maybe_delivered", `-1004`), set("/data/maybe_delivered", `true`), set("/data/parts", `4`), set("/data/parts_sent", `2`))...)},
		{"failed link too long", mutate(t, failedResult, append(failedWith("permanent", `-1009`), set("/data/attempts", `0`))...)},
		{"id of 128 two-byte characters", mutate(t, failedResult, set("/id", `"`+strings.Repeat("é", 128)+`"`), set("/data/command_id", `"`+strings.Repeat("é", 128)+`"`))},
	}
	v := newValidator(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := v.Validate(schemas.ResultEvent, tt.doc); err != nil {
				t.Errorf("Validate(%s) = %v, want nil", tt.doc, err)
			}
		})
	}
}

func TestValidateResultInvalid(t *testing.T) {
	type test struct {
		name   string
		doc    []byte
		wantAt string
	}
	var tests []test
	for _, m := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "appid", "businessid", "data"} {
		tests = append(tests, test{"missing " + m, mutate(t, failedResult, del("/"+m)), ""})
	}
	for _, m := range []string{"command_id", "verb", "appid", "business_id", "openid", "outcome", "errcode", "errmsg", "attempts", "time", "reason"} {
		tests = append(tests, test{"missing data." + m, mutate(t, failedResult, del("/data/"+m)), "/data"})
	}
	long := `"` + strings.Repeat("x", 257) + `"`
	longBytes := `"` + strings.Repeat("é", 129) + `"`
	tests = append(tests, []test{
		// Unknown members at each level.
		{"unknown member", mutate(t, failedResult, set("/unknown", `"x"`)), ""},
		{"extension attribute", mutate(t, failedResult, set("/correlationid", `"x"`)), ""},
		{"traceparent not W3C", mutate(t, failedResult, set("/traceparent", `"00-4BF92F3577B34DA6A3CE929D0E0E4736-7d3efb1b173fecfa-01"`)), "/traceparent"},
		{"unknown member in data", mutate(t, failedResult, set("/data/unknown", `"x"`)), "/data"},

		// Outcome and reason.
		{"delivered with reason", mutate(t, deliveredResult, set("/data/reason", `"window"`)), "/data/reason"},
		{"parts 1", mutate(t, deliveredResult, set("/data/parts", `1`)), "/data/parts"},
		{"parts string", mutate(t, deliveredResult, set("/data/parts", `"3"`), set("/data/parts_sent", `3`)), "/data/parts"},
		{"parts_sent without parts", mutate(t, deliveredResult, set("/data/parts_sent", `1`)), "/data"},
		{"budget_cut unknown", mutate(t, deliveredResult, set("/data/parts", `3`), set("/data/parts_sent", `2`), set("/data/budget_cut", `"drop"`)), "/data/budget_cut"},
		{"budget_cut without parts", mutate(t, deliveredResult, set("/data/budget_cut", `"partial"`)), "/data"},
		{"parts_sent 0", mutate(t, failedResult, set("/data/parts", `2`), set("/data/parts_sent", `0`)), "/data/parts_sent"},
		{"more parts sent than parts", mutate(t, failedResult, set("/data/parts", `2`), set("/data/parts_sent", `3`)), "/data/parts_sent"},
		{"delivered with parts unsent", mutate(t, deliveredResult, set("/data/parts", `3`), set("/data/parts_sent", `2`)), "/data/parts_sent"},
		{"delivered with no part sent", mutate(t, deliveredResult, set("/data/parts", `3`)), "/data/parts_sent"},
		{"delivered with errcode", mutate(t, deliveredResult, set("/data/errcode", `45015`)), "/data/errcode"},
		{"delivered maybe_delivered", mutate(t, deliveredResult, set("/data/maybe_delivered", `true`)), "/data/maybe_delivered"},
		{"failed without reason", mutate(t, failedResult, del("/data/reason")), "/data"},
		{"failed with errcode 0", mutate(t, failedResult, set("/data/errcode", `0`)), "/data/errcode"},
		{"reason unknown", mutate(t, failedResult, set("/data/reason", `"timeout"`)), "/data/reason"},
		{"reason empty", mutate(t, failedResult, set("/data/reason", `""`)), "/data/reason"},
		{"maybe_delivered with reason window", mutate(t, failedResult, set("/data/maybe_delivered", `true`)), "/data/maybe_delivered"},
		{"reason maybe_delivered without maybe_delivered", mutate(t, failedResult, failedWith("maybe_delivered", `-1004`)...), "/data"},
		{"reason maybe_delivered, maybe_delivered false", mutate(t, failedResult, set("/data/reason", `"maybe_delivered"`)), "/data/maybe_delivered"},
		{"maybe_delivered string", mutate(t, failedResult, set("/data/maybe_delivered", `"false"`)), "/data/maybe_delivered"},
		{"outcome pending", mutate(t, failedResult, set("/data/outcome", `"pending"`)), "/data/outcome"},
		{"type delivered for failed", mutate(t, failedResult, set("/type", `"weixin.kf.result.delivered"`)), "/type"},
		{"type failed for delivered", mutate(t, deliveredResult, set("/type", `"weixin.kf.result.failed"`)), "/type"},
		{"type of a command", mutate(t, failedResult, set("/type", `"weixin.kf.command.send"`)), "/type"},
		{"verb reply", mutate(t, failedResult, set("/data/verb", `"reply"`)), "/data/verb"},

		// Types and ranges.
		{"errcode string", mutate(t, failedResult, set("/data/errcode", `"45015"`)), "/data/errcode"},
		{"errcode fraction", mutate(t, failedResult, set("/data/errcode", `45015.5`)), "/data/errcode"},
		{"errmsg number", mutate(t, failedResult, set("/data/errmsg", `1`)), "/data/errmsg"},
		{"attempts negative", mutate(t, failedResult, set("/data/attempts", `-1`)), "/data/attempts"},
		{"attempts string", mutate(t, failedResult, set("/data/attempts", `"1"`)), "/data/attempts"},
		{"media_id empty", mutate(t, failedResult, set("/data/media_id", `""`)), "/data/media_id"},
		{"command_id empty", mutate(t, failedResult, set("/id", `""`), set("/data/command_id", `""`)), "/data/command_id"},
		{"command_id of 257 characters", mutate(t, failedResult, set("/id", long), set("/data/command_id", long)), "/data/command_id"},
		{"command_id of 258 bytes", mutate(t, failedResult, set("/id", longBytes), set("/data/command_id", longBytes)), "/data/command_id"},
		{"specversion 0.3", mutate(t, failedResult, set("/specversion", `"0.3"`)), "/specversion"},
		{"datacontenttype xml", mutate(t, failedResult, set("/datacontenttype", `"text/xml"`)), "/datacontenttype"},
		{"data array", mutate(t, failedResult, set("/data", `[]`)), "/data"},

		// Bad tokens.
		{"data.appid with dot", mutate(t, failedResult, set("/data/appid", `"wx.1"`)), "/data/appid"},
		{"data.business_id number", mutate(t, failedResult, set("/data/business_id", `0`)), "/data/business_id"},
		{"data.openid with space", mutate(t, failedResult, set("/data/openid", `"o User"`)), "/data/openid"},
		{"data.openid empty", mutate(t, failedResult, set("/data/openid", `""`)), "/data/openid"},
		{"appid with >", mutate(t, failedResult, set("/appid", `"wx>"`)), "/appid"},
		{"businessid wildcard", mutate(t, failedResult, set("/businessid", `"*"`)), "/businessid"},
		{"subject with dot", mutate(t, failedResult, set("/subject", `"o.User"`)), "/subject"},
		{"source without egress", mutate(t, failedResult, set("/source", `"/wxkf/wx0123456789abcdef/0"`)), "/source"},
		{"source with dot", mutate(t, failedResult, set("/source", `"/wxkf/wx0.1/0/egress"`)), "/source"},

		// Bad time.
		{"time not UTC", mutate(t, failedResult, set("/time", `"2026-11-21T14:30:00.123456789+08:00"`)), "/time"},
		{"time of ten fractional digits", mutate(t, failedResult, set("/time", `"2026-11-21T06:30:00.1234567890Z"`)), "/time"},
		{"time month 13", mutate(t, failedResult, set("/time", `"2026-13-21T06:30:00Z"`)), "/time"},
		{"data.time unix seconds", mutate(t, failedResult, set("/data/time", `1795328999`)), "/data/time"},

		// Envelope and data disagree.
		{"id not command_id", mutate(t, failedResult, set("/id", `"cmd-2"`)), "/id"},
		{"source other appid", mutate(t, failedResult, set("/source", `"/wxkf/wx1111111111111111/0/egress"`)), "/source"},
		{"source other bid", mutate(t, failedResult, set("/source", `"/wxkf/wx0123456789abcdef/42/egress"`)), "/source"},
		{"appid other", mutate(t, failedResult, set("/appid", `"wx1111111111111111"`)), "/appid"},
		{"businessid other", mutate(t, failedResult, set("/businessid", `"42"`)), "/businessid"},
		{"subject other", mutate(t, failedResult, set("/subject", `"oOther"`)), "/subject"},
		{"time not data.time", mutate(t, failedResult, set("/time", `"2026-11-21T06:30:00.12345679Z"`)), "/time"},

		// Not JSON.
		{"truncated", []byte(failedResult[:40]), ""},
		{"empty", nil, ""},
	}...)

	v := newValidator(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantInvalid(t, schemas.ResultEvent, tt.doc, v.Validate(schemas.ResultEvent, tt.doc), tt.wantAt)
		})
	}
}

// TestValidateGoResult checks the JSON of the Go types egress publishes
// ([events.ResultEvent]), built as egress builds them ([events.NewResult]),
// against the schema.
func TestValidateGoResult(t *testing.T) {
	v := newValidator(t)
	for _, tt := range []struct {
		name string
		d    events.ResultData
		at   time.Time
	}{
		{"delivered", events.ResultData{Outcome: events.OutcomeDelivered, ErrMsg: "ok", Attempts: 1, MediaID: "MEDIA_ID"},
			time.Date(2026, 11, 21, 6, 30, 0, 123456789, time.UTC)},
		{"delivered at a whole second", events.ResultData{Outcome: events.OutcomeDelivered, ErrMsg: "ok", Attempts: 2},
			time.Date(2026, 11, 21, 6, 30, 0, 0, time.UTC)},
		{"delivered at milliseconds", events.ResultData{Outcome: events.OutcomeDelivered, ErrMsg: "ok", Attempts: 1},
			time.Date(2026, 11, 21, 6, 30, 0, 120000000, time.UTC)},
		{"failed window", events.ResultData{Outcome: events.OutcomeFailed, ErrCode: 45015, ErrMsg: "response out of time limit", Attempts: 1, Reason: "window"},
			time.Date(2026, 11, 21, 6, 30, 0, 5, time.UTC)},
		{"failed malformed", events.ResultData{Outcome: events.OutcomeFailed, ErrCode: -1001, ErrMsg: "schemas: document does not match", Reason: "malformed"},
			time.Date(2026, 11, 21, 6, 30, 0, 0, time.UTC)},
		{"failed maybe_delivered", events.ResultData{Outcome: events.OutcomeFailed, ErrCode: -1004, ErrMsg: "timeout", Attempts: 1, Reason: "maybe_delivered", MaybeDelivered: true},
			time.Date(2026, 11, 21, 6, 30, 0, 999999999, time.UTC)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d
			d.CommandID, d.Verb = "cmd-1", events.VerbSend
			d.AppID, d.BusinessID, d.OpenID = "wx0123456789abcdef", "42", "oUser"
			d.Time = tt.at
			ev := events.NewResult(d)
			ev.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-7d3efb1b173fecfa-01"
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Validate(schemas.ResultEvent, b); err != nil {
				t.Errorf("Validate(%s) = %v, want nil", b, err)
			}
		})
	}
}
