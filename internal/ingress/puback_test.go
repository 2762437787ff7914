package ingress

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestParsePubAck(t *testing.T) {
	tests := []struct {
		in   string
		want PubAck
		fast bool // taken by the scanner, not encoding/json
	}{
		{`{"stream":"WXKF_IN","seq":42}`, PubAck{Stream: "WXKF_IN", Sequence: 42}, true},
		{`{"stream":"WXKF_IN","seq":42,"duplicate":true}`, PubAck{Stream: "WXKF_IN", Sequence: 42, Duplicate: true}, true},
		{` { "stream" : "S" , "domain":"hub", "seq" : 18446744073709551615 } `, PubAck{Stream: "S", Sequence: 1<<64 - 1, Domain: "hub"}, true},
		{`{"stream":"S","seq":0,"duplicate":false}`, PubAck{Stream: "S"}, true},
		// Left to encoding/json, same answer.
		{`{"stream":"S","seq":7,"batch":"b1","count":3}`, PubAck{Stream: "S", Sequence: 7}, false},
		{`{"Stream":"S","SEQ":7}`, PubAck{Stream: "S", Sequence: 7}, false},
		{`{"stream":"S\u0031","seq":7}`, PubAck{Stream: "S1", Sequence: 7}, false},
	}
	for _, tt := range tests {
		got, err := ParsePubAck([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("ParsePubAck(%s) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if _, ok := scanPubAck([]byte(tt.in)); ok != tt.fast {
			t.Errorf("scanPubAck(%s) took it: %v, want %v", tt.in, ok, tt.fast)
		}
	}
}

func TestParsePubAckErrors(t *testing.T) {
	apiErr := `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}`
	_, err := ParsePubAck([]byte(apiErr))
	var ae *jetstream.APIError
	if !errors.As(err, &ae) || ae.ErrorCode != 10077 || ae.Code != 503 {
		t.Errorf("error ack gave %v, want the APIError 10077", err)
	}
	for _, in := range []string{``, `{}`, `{"seq":1}`, `{"stream":"","seq":1}`, `{"stream":"S","seq":-1}`,
		`{"stream":"S","seq":1.5}`, `{"stream":"S","seq":01}`, `{"stream":"S","seq":1}x`, `[1]`, `{"stream":"S",}`,
		`{"stream":"S","duplicate":truex}`, `{"stream":"S","seq":18446744073709551616}`} {
		if ack, err := ParsePubAck([]byte(in)); !errors.Is(err, jetstream.ErrInvalidJSAck) {
			t.Errorf("ParsePubAck(%q) = %+v, %v; want ErrInvalidJSAck", in, ack, err)
		}
	}
}

// FuzzParsePubAck checks that the scanner, whenever it takes an input,
// agrees with encoding/json, and that nothing panics.
func FuzzParsePubAck(f *testing.F) {
	for _, s := range []string{
		`{"stream":"WXKF_IN","seq":42}`,
		`{"stream":"WXKF_IN","seq":42,"duplicate":true}`,
		`{"stream":"S","domain":"hub","seq":1}`,
		`{"error":{"code":503,"err_code":10077,"description":"x"},"stream":"S","seq":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParsePubAck(data)
		fast, ok := scanPubAck(data)
		if !ok {
			return
		}
		if err != nil || got != fast {
			t.Fatalf("ParsePubAck = %+v, %v; scanner %+v", got, err, fast)
		}
		var ref pubAckJSON
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("scanner took %q, encoding/json rejects it: %v", data, err)
		}
		want := PubAck{Stream: ref.Stream, Sequence: ref.Sequence, Duplicate: ref.Duplicate, Domain: ref.Domain}
		if ref.Error != nil || fast != want {
			t.Fatalf("scanner %+v, encoding/json %+v (error %v)", fast, want, ref.Error)
		}
	})
}

func BenchmarkParsePubAck(b *testing.B) {
	data := []byte(`{"stream":"WXKF_IN","seq":1234567,"duplicate":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePubAck(data); err != nil {
			b.Fatal(err)
		}
	}
}
