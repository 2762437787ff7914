package egress

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// Every command's result, and every send's "sending" record, is encoded
// here without reflection: the same bytes as json.Marshal, for less than
// half its cost (BenchmarkEncodeResult), and a record right into a buffer
// with room for its pad. TestEncodeAsMarshal compares
// both on values with every member set, so a member added to one of the
// types fails it until it is encoded here too.

// encodeResult returns ev encoded as json.Marshal encodes it.
func encodeResult(ev events.ResultEvent) ([]byte, error) {
	b := make([]byte, 0, 768)
	b = append(b, `{"specversion":`...)
	b = appendString(b, ev.SpecVersion)
	b = append(b, `,"id":`...)
	b = appendString(b, ev.ID)
	b = append(b, `,"source":`...)
	b = appendString(b, ev.Source)
	b = append(b, `,"type":`...)
	b = appendString(b, ev.Type)
	b = append(b, `,"subject":`...)
	b = appendString(b, ev.Subject)
	b = append(b, `,"time":`...)
	b, err := appendTime(b, ev.Time)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"datacontenttype":`...)
	b = appendString(b, ev.DataContentType)
	b = append(b, `,"appid":`...)
	b = appendString(b, ev.AppID)
	b = append(b, `,"businessid":`...)
	b = appendString(b, ev.BusinessID)
	if ev.TraceParent != "" {
		b = append(b, `,"traceparent":`...)
		b = appendString(b, ev.TraceParent)
	}
	d := ev.Data
	b = append(b, `,"data":{"command_id":`...)
	b = appendString(b, d.CommandID)
	b = append(b, `,"verb":`...)
	b = appendString(b, d.Verb)
	b = append(b, `,"appid":`...)
	b = appendString(b, d.AppID)
	b = append(b, `,"business_id":`...)
	b = appendString(b, d.BusinessID)
	b = append(b, `,"openid":`...)
	b = appendString(b, d.OpenID)
	b = append(b, `,"outcome":`...)
	b = appendString(b, d.Outcome)
	b = append(b, `,"errcode":`...)
	b = strconv.AppendInt(b, int64(d.ErrCode), 10)
	b = append(b, `,"errmsg":`...)
	b = appendString(b, d.ErrMsg)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(d.Attempts), 10)
	b = appendStringMember(b, `,"reason":`, d.Reason)
	if d.MaybeDelivered {
		b = append(b, `,"maybe_delivered":true`...)
	}
	b = appendStringMember(b, `,"media_id":`, d.MediaID)
	b = appendIntMember(b, `,"parts":`, d.Parts)
	b = appendIntMember(b, `,"parts_sent":`, d.PartsSent)
	if d.ReplyBudget != nil {
		rb, err := json.Marshal(d.ReplyBudget) // only with budgets on: not worth its own code
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"reply_budget":`...), rb...)
	}
	if d.BudgetExceeded {
		b = append(b, `,"budget_exceeded":true`...)
	}
	b = appendStringMember(b, `,"budget_cut":`, d.BudgetCut)
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
		return append(b, m...), err
	}
	b = append(b, `{"state":`...)
	b = appendString(b, r.State)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	b = appendIntMember(b, `,"retries":`, r.Retries)
	b = appendIntMember(b, `,"last_code":`, r.LastCode)
	b = appendStringMember(b, `,"last_msg":`, r.LastMsg)
	b = appendStringMember(b, `,"last_reason":`, r.LastReason)
	if !r.RetryAt.IsZero() {
		var err error
		if b, err = appendTime(append(b, `,"retry_at":`...), r.RetryAt); err != nil {
			return nil, err
		}
	}
	b = appendStringMember(b, `,"subject":`, r.Subject)
	b = appendStringMember(b, `,"digest":`, r.Digest)
	b = appendIntMember(b, `,"parts":`, r.Parts)
	b = appendIntMember(b, `,"parts_sent":`, r.PartsSent)
	b = appendIntMember(b, `,"sent_bytes":`, r.SentBytes)
	if t := r.Budget; t != nil {
		var err error
		if b, err = appendTime(append(b, `,"budget":{"expires_at":`...), t.ExpiresAt); err != nil {
			return nil, err
		}
		b = strconv.AppendInt(append(b, `,"sends":`...), int64(t.Sends), 10)
		b = append(b, '}')
	}
	if c := r.Cut; c != nil {
		b = appendString(append(b, `,"cut":{"policy":`...), c.Policy)
		b = strconv.AppendInt(append(b, `,"parts":`...), int64(c.Parts), 10)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendStringMember appends member (`,"name":`) and s unless s is empty
// (omitempty).
func appendStringMember(b []byte, member, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, member...), s)
}

// appendIntMember appends member (`,"name":`) and n unless n is 0
// (omitempty).
func appendIntMember(b []byte, member string, n int) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendInt(append(b, member...), int64(n), 10)
}

// appendTime appends t as json.Marshal writes it (its MarshalJSON).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	tb, err := t.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, tb...), nil
}

// appendString appends s as a JSON string, as json.Marshal writes it. A
// string json.Marshal writes as it is (no character to escape: no control
// character, quote, backslash, <, >, &, U+2028, U+2029 or invalid UTF-8)
// is copied; any other is left to json.Marshal.
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
