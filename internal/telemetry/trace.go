package telemetry

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// TraceParent is a W3C trace context header value:
// 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>.
//
// kfbridge carries trace context in the traceparent header of NATS messages
// and HTTP calls: the ingress starts a trace per push (or continues the one a
// tracing proxy sent), bots copy the traceparent of the event they answer
// onto their command, and the egress continues that trace on its call of
// WeChat's API and on the result.

// ValidTraceParent reports whether tp is a well-formed version-00 value.
func ValidTraceParent(tp string) bool {
	if len(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || tp[:2] == "ff" {
		return false
	}
	for i := 0; i < len(tp); i++ {
		if i == 2 || i == 35 || i == 52 {
			continue
		}
		if c := tp[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return tp[3:35] != "00000000000000000000000000000000" && tp[36:52] != "0000000000000000"
}

// NewTraceParent starts a new sampled trace. Trace and span ids need to be
// unique, not secret: they come from math/rand/v2, whose generator is seeded
// from the system's randomness and costs no system call per id.
func NewTraceParent() string {
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	binary.LittleEndian.PutUint64(b[16:], rand.Uint64())
	var out [55]byte
	copy(out[:], "00-")
	hex.Encode(out[3:35], b[:16])
	out[35] = '-'
	hex.Encode(out[36:52], b[16:])
	copy(out[52:], "-01")
	return string(out[:])
}

// ChildTraceParent continues parent's trace with a new span id, or starts a
// new trace when parent is not valid.
func ChildTraceParent(parent string) string {
	if !ValidTraceParent(parent) {
		return NewTraceParent()
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	out := []byte(parent)
	hex.Encode(out[36:52], b[:])
	return string(out)
}

// TraceID returns the trace id of a valid traceparent, or "".
func TraceID(tp string) string {
	if !ValidTraceParent(tp) {
		return ""
	}
	return tp[3:35]
}
