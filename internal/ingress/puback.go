package ingress

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// PubAck is JetStream's acknowledgement of a stored message.
type PubAck struct {
	// Stream is the stream that stored the message.
	Stream string
	// Sequence is the message's sequence in the stream (for a duplicate,
	// the sequence of the message stored first).
	Sequence uint64
	// Duplicate is true when the stream already held the Nats-Msg-Id
	// within its duplicate window: nothing new was stored.
	Duplicate bool
	// Domain is the JetStream domain, if any.
	Domain string
}

// pubAckJSON is the ack as JetStream sends it.
type pubAckJSON struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Stream    string              `json:"stream"`
	Sequence  uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate,omitempty"`
	Domain    string              `json:"domain,omitempty"`
}

// ParsePubAck parses the answer JetStream sends to a publish. An error
// answer (no stream, wrong expected sequence, …) is returned as a
// *jetstream.APIError; an answer that is not a valid ack gives
// jetstream.ErrInvalidJSAck.
//
// The acks JetStream sends for stored messages are parsed by a scanner
// that allocates only the stream name; anything else (an error, an unknown
// field, escapes) goes through encoding/json with the same result.
func ParsePubAck(data []byte) (PubAck, error) {
	if ack, ok := scanPubAck(data); ok {
		return ack, nil
	}
	var a pubAckJSON
	if err := json.Unmarshal(data, &a); err != nil {
		return PubAck{}, jetstream.ErrInvalidJSAck
	}
	if a.Error != nil {
		return PubAck{}, fmt.Errorf("jetstream: %w", a.Error)
	}
	if a.Stream == "" {
		return PubAck{}, jetstream.ErrInvalidJSAck
	}
	return PubAck{Stream: a.Stream, Sequence: a.Sequence, Duplicate: a.Duplicate, Domain: a.Domain}, nil
}

// scanPubAck parses the common ack shapes: an object whose members are
// exactly "stream" and "domain" (strings without escapes), "seq" (an
// unsigned integer) and "duplicate" (a boolean). It reports false for
// anything else, which is then left to encoding/json.
func scanPubAck(data []byte) (PubAck, bool) {
	var ack PubAck
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return PubAck{}, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return PubAck{}, false // no stream
	}
	for {
		key, j, ok := scanPlainString(data, i)
		if !ok {
			return PubAck{}, false
		}
		j = skipSpace(data, j)
		if j >= len(data) || data[j] != ':' {
			return PubAck{}, false
		}
		j = skipSpace(data, j+1)
		switch string(key) {
		case "stream", "domain":
			v, k, ok := scanPlainString(data, j)
			if !ok {
				return PubAck{}, false
			}
			if key[0] == 's' {
				ack.Stream = string(v)
			} else {
				ack.Domain = string(v)
			}
			j = k
		case "seq":
			v, k, ok := scanUint(data, j)
			if !ok {
				return PubAck{}, false
			}
			ack.Sequence, j = v, k
		case "duplicate":
			switch {
			case hasPrefixAt(data, j, "true"):
				ack.Duplicate, j = true, j+4
			case hasPrefixAt(data, j, "false"):
				ack.Duplicate, j = false, j+5
			default:
				return PubAck{}, false
			}
		default:
			return PubAck{}, false
		}
		j = skipSpace(data, j)
		if j >= len(data) {
			return PubAck{}, false
		}
		switch data[j] {
		case ',':
			i = skipSpace(data, j+1)
			continue
		case '}':
			if skipSpace(data, j+1) != len(data) || ack.Stream == "" {
				return PubAck{}, false
			}
			return ack, true
		}
		return PubAck{}, false
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// scanPlainString scans a JSON string at data[i] that has no escapes and
// only printable ASCII, returning its contents and the index after it.
func scanPlainString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// scanUint scans a JSON number at data[i] that is an unsigned integer
// fitting in 64 bits.
func scanUint(data []byte, i int) (uint64, int, bool) {
	j := i
	var v uint64
	for j < len(data) && data[j] >= '0' && data[j] <= '9' {
		d := uint64(data[j] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, 0, false
		}
		v = v*10 + d
		j++
	}
	switch {
	case j == i, j-i > 1 && data[i] == '0':
		return 0, 0, false
	case j < len(data) && (data[j] == '.' || data[j] == 'e' || data[j] == 'E'):
		return 0, 0, false
	}
	return v, j, true
}

func hasPrefixAt(data []byte, i int, s string) bool {
	return len(data)-i >= len(s) && string(data[i:i+len(s)]) == s
}
