package egress

import (
	"encoding/json"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// Every command's result, and every send's "sending" record, is encoded
// here without reflection: the same bytes as json.Marshal, a result in
// about 40 % of its time, and a record straight into a buffer with room
// for its pad, one allocation instead of three (BenchmarkEncodeResult).
// TestEncodeAsMarshal compares both with json.Marshal on values with every
// member set, so a member added to one of the types fails it until it is
// encoded here too.

// encodeResult returns ev encoded as json.Marshal encodes it.
func encodeResult(ev events.ResultEvent) ([]byte, error) {
	b := make([]byte, 0, 768)
	b = appendStr(b, `{"specversion":`, ev.SpecVersion)
	b = appendStr(b, `,"id":`, ev.ID)
	b = appendStr(b, `,"source":`, ev.Source)
	b = appendStr(b, `,"type":`, ev.Type)
	b = appendStr(b, `,"subject":`, ev.Subject)
	b = append(b, `,"time":`...)
	b, err := appendTime(b, ev.Time)
	if err != nil {
		return nil, err
	}
	b = appendStr(b, `,"datacontenttype":`, ev.DataContentType)
	b = appendStr(b, `,"appid":`, ev.AppID)
	b = appendStr(b, `,"businessid":`, ev.BusinessID)
	b = appendStrOmitEmpty(b, `,"traceparent":`, ev.TraceParent)
	d := ev.Data
	b = appendStr(b, `,"data":{"command_id":`, d.CommandID)
	b = appendStr(b, `,"verb":`, d.Verb)
	b = appendStr(b, `,"appid":`, d.AppID)
	b = appendStr(b, `,"business_id":`, d.BusinessID)
	b = appendStr(b, `,"openid":`, d.OpenID)
	b = appendStr(b, `,"outcome":`, d.Outcome)
	b = appendInt(b, `,"errcode":`, d.ErrCode)
	b = appendStr(b, `,"errmsg":`, d.ErrMsg)
	b = appendInt(b, `,"attempts":`, d.Attempts)
	b = appendStrOmitEmpty(b, `,"reason":`, d.Reason)
	if d.MaybeDelivered {
		b = append(b, `,"maybe_delivered":true`...)
	}
	b = appendStrOmitEmpty(b, `,"media_id":`, d.MediaID)
	b = appendIntOmitEmpty(b, `,"parts":`, d.Parts)
	b = appendIntOmitEmpty(b, `,"parts_sent":`, d.PartsSent)
	if rb := d.ReplyBudget; rb != nil {
		b = appendInt(b, `,"reply_budget":{"remaining":`, rb.Remaining)
		b = append(b, `,"expires_at":`...)
		if b, err = appendTime(b, rb.ExpiresAt); err != nil {
			return nil, err
		}
		b = appendStrOmitEmpty(b, `,"trigger":`, rb.Trigger)
		b = append(b, '}')
	}
	if d.BudgetExceeded {
		b = append(b, `,"budget_exceeded":true`...)
	}
	b = appendStrOmitEmpty(b, `,"budget_cut":`, d.BudgetCut)
	b = append(b, `,"time":`...)
	if b, err = appendTime(b, d.Time); err != nil {
		return nil, err
	}
	return append(b, "}}"...), nil
}

// appendRecord appends r encoded as json.Marshal encodes it. A record with
// a result (a done record: failures only) is left to json.Marshal, which
// also compacts the result.
func appendRecord(b []byte, r *record) ([]byte, error) {
	if len(r.Result) > 0 {
		m, err := json.Marshal(r)
		if len(b) == 0 {
			return m, err
		}
		return append(b, m...), err
	}
	b = appendStr(b, `{"state":`, r.State)
	b = appendInt(b, `,"attempts":`, r.Attempts)
	b = appendIntOmitEmpty(b, `,"retries":`, r.Retries)
	b = appendIntOmitEmpty(b, `,"last_code":`, r.LastCode)
	b = appendStrOmitEmpty(b, `,"last_msg":`, r.LastMsg)
	b = appendStrOmitEmpty(b, `,"last_reason":`, r.LastReason)
	if !r.RetryAt.IsZero() {
		var err error
		if b, err = appendTime(append(b, `,"retry_at":`...), r.RetryAt); err != nil {
			return nil, err
		}
	}
	b = appendStrOmitEmpty(b, `,"subject":`, r.Subject)
	b = appendStrOmitEmpty(b, `,"digest":`, r.Digest)
	b = appendIntOmitEmpty(b, `,"parts":`, r.Parts)
	b = appendIntOmitEmpty(b, `,"parts_sent":`, r.PartsSent)
	b = appendIntOmitEmpty(b, `,"sent_bytes":`, r.SentBytes)
	if t := r.Budget; t != nil {
		var err error
		if b, err = appendTime(append(b, `,"budget":{"expires_at":`...), t.ExpiresAt); err != nil {
			return nil, err
		}
		b = append(appendInt(b, `,"sends":`, t.Sends), '}')
	}
	if c := r.Cut; c != nil {
		b = appendStr(b, `,"cut":{"policy":`, c.Policy)
		b = append(appendInt(b, `,"parts":`, c.Parts), '}')
	}
	return append(b, '}'), nil
}

// appendStr appends member (`,"name":`) and s.
func appendStr(b []byte, member, s string) []byte {
	return appendString(append(b, member...), s)
}

// appendInt appends member (`,"name":`) and n.
func appendInt(b []byte, member string, n int) []byte {
	return strconv.AppendInt(append(b, member...), int64(n), 10)
}

// appendStrOmitEmpty appends member (`,"name":`) and s unless s is empty
// (omitempty).
func appendStrOmitEmpty(b []byte, member, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, member...), s)
}

// appendIntOmitEmpty appends member (`,"name":`) and n unless n is 0
// (omitempty).
func appendIntOmitEmpty(b []byte, member string, n int) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendInt(append(b, member...), int64(n), 10)
}

// appendTime appends t as json.Marshal writes it (its MarshalJSON), or
// fails with the error json.Marshal returns.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	tb, err := t.MarshalJSON()
	if err != nil {
		return nil, &json.MarshalerError{Type: reflect.TypeFor[time.Time](), Err: err}
	}
	return append(b, tb...), nil
}

// appendString appends s as a JSON string, as json.Marshal writes it. A
// string json.Marshal writes as it is (no character to escape: no control
// character, quote, backslash, <, >, &, U+2028, U+2029 or invalid UTF-8)
// is copied; any other is left to json.Marshal. It knows what [jsonRune]
// knows, with a loop of its own over ASCII: calling jsonRune per
// character made encodeResult a third slower (BenchmarkEncodeResult).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < ' ' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendMarshaled(b, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return appendMarshaled(b, s)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendMarshaled appends json.Marshal's encoding of s (which cannot fail).
func appendMarshaled(b []byte, s string) []byte {
	m, _ := json.Marshal(s)
	return append(b, m...)
}
