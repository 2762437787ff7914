package egress

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// awkward are strings json.Marshal escapes, or nearly does.
var awkward = []string{"", "x", "ok", "wxkf.out.wx1.0.oU.send", "<b>&amp;</b>", "a&b", "x>y", `a"b\c`, "line\nbreak\ttab\r",
	"\x00\x1f", "\u2028\u2029", "\xff\xfe", "ok\xc3", "你好 😀", "\u007f", "tail\\", "é", "\ufffd"}

// fill sets every field v reaches to a random value: strings from
// awkward, numbers from the extremes and around zero, times with and
// without a fraction, in UTC and not, or zero; pointers are nil half the
// time. A field of a kind it does not know fails the test, so that a
// member added to the encoded types is encoded and compared too.
func fill(t *testing.T, r *rand.Rand, v reflect.Value) {
	t.Helper()
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		times := []time.Time{{}, time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC), time.Date(2026, 12, 3, 18, 0, 0, 123456789, time.UTC),
			time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.FixedZone("CST", 8*3600)), time.Unix(r.Int64N(1<<33), r.Int64N(1e9)).UTC()}
		v.Set(reflect.ValueOf(times[r.IntN(len(times))]))
		return
	case v.Type() == reflect.TypeFor[json.RawMessage]():
		raws := []json.RawMessage{nil, json.RawMessage(`{"a":"<b>"}`), json.RawMessage(`{"x":1}`)}
		v.Set(reflect.ValueOf(raws[r.IntN(len(raws))]))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(awkward[r.IntN(len(awkward))])
	case reflect.Int:
		ints := []int64{0, 0, 1, -1, 45047, -1 << 31, 1 << 40, r.Int64()}
		v.SetInt(ints[r.IntN(len(ints))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Pointer:
		if r.IntN(2) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(t, r, p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, r, v.Field(i))
		}
	default:
		t.Fatalf("fill: a field of kind %s (%s): encode it in encode.go and teach fill", v.Kind(), v.Type())
	}
}

// TestEncodeAsMarshal checks that results and records are encoded byte
// for byte as json.Marshal encodes them, for values with every member set
// or not, and strings that need escaping.
func TestEncodeAsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 1))
	for i := range 20000 {
		var ev events.ResultEvent
		fill(t, r, reflect.ValueOf(&ev).Elem())
		want, werr := json.Marshal(ev)
		got, gerr := encodeResult(ev)
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("result %d: %#v\nencodeResult: %s (%v)\njson.Marshal: %s (%v)", i, ev, got, gerr, want, werr)
		}
		var rec record
		fill(t, r, reflect.ValueOf(&rec).Elem())
		want, werr = json.Marshal(rec)
		got, gerr = appendRecord([]byte("prefix"), &rec)
		got, _ = bytes.CutPrefix(got, []byte("prefix"))
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("record %d: %#v\nappendRecord: %s (%v)\njson.Marshal: %s (%v)", i, rec, got, gerr, want, werr)
		}
	}
	// A time json.Marshal refuses is refused, with json.Marshal's error.
	bad := events.NewResult(events.ResultData{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	_, werr := json.Marshal(bad)
	if _, err := encodeResult(bad); err == nil || werr == nil || err.Error() != werr.Error() {
		t.Fatalf("encodeResult of year 10000: %v, json.Marshal: %v", err, werr)
	}
	badRec := record{RetryAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, werr = json.Marshal(badRec)
	if _, err := appendRecord(nil, &badRec); err == nil || werr == nil || err.Error() != werr.Error() {
		t.Fatalf("appendRecord of year -1: %v, json.Marshal: %v", err, werr)
	}
}

// BenchmarkEncodeResult compares encodeResult with json.Marshal on a
// delivered result, and appendRecord on a "sending" record in a buffer
// with room for its pad, as saveRecord writes it.
func BenchmarkEncodeResult(b *testing.B) {
	d := events.ResultData{CommandID: "b-12345", Verb: events.VerbSend, AppID: appID, BusinessID: "0", OpenID: "oB001234",
		Outcome: events.OutcomeDelivered, ErrMsg: "ok", Attempts: 1, Time: time.Now().UTC()}
	ev := events.NewResult(d)
	ev.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	rec := record{State: stateSending, Attempts: 1, Subject: "wxkf.out." + appID + ".0.oB001234.send", Digest: "sha256:" + strings.Repeat("ab", 32)}
	for _, c := range []struct {
		name   string
		encode func() ([]byte, error)
	}{
		{"result/json.Marshal", func() ([]byte, error) { return json.Marshal(ev) }},
		{"result/encodeResult", func() ([]byte, error) { return encodeResult(ev) }},
		// A "sending" record is padded to about 1.5 KB (see saveRecord).
		{"record+room-for-pad/json.Marshal", func() ([]byte, error) {
			b, err := json.Marshal(rec)
			return slices.Grow(b, 1536-len(b)), err
		}},
		{"record+room-for-pad/appendRecord", func() ([]byte, error) { return appendRecord(make([]byte, 0, 1536), &rec) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.encode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
