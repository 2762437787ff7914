package wxcodec

import (
	"fmt"
	"strings"
)

// Option configures a [Codec] in [New].
type Option func(*options) error

type options struct {
	modes     []Mode
	prevToken string
	prevKey   string
}

// WithModes sets the encryption modes [Codec.Decode] accepts; a push in
// another mode fails with [ErrMode] before its body is parsed. Without
// this option a codec accepts exactly the mode its key implies:
// [ModeSafe] with an EncodingAESKey, [ModePlaintext] without.
//
// [ModeCompatible] and [ModeSafe] need an EncodingAESKey. Listing
// [ModePlaintext] for a codec with a key is an explicit downgrade: the
// signature of a plaintext push covers only the token, timestamp and
// nonce, not the body, and it is in every push URL, so whoever sees one URL
// can forge any push until its timestamp expires.
func WithModes(modes ...Mode) Option {
	return func(o *options) error {
		if len(modes) == 0 {
			return fmt.Errorf("%w: no mode accepted", ErrConfig)
		}
		for _, m := range modes {
			if m != ModePlaintext && m != ModeCompatible && m != ModeSafe {
				return fmt.Errorf("%w: unknown mode %v", ErrConfig, m)
			}
		}
		o.modes = modes
		return nil
	}
}

// WithPrevious sets the push Token and the EncodingAESKey in use before a
// rotation; either may be "" when only the other changed. [Codec.Decode]
// and [Codec.VerifyURL] try the current token and key first and the
// previous one only when the current one fails, as WeChat's guidance for
// changing the EncodingAESKey recommends; [Push.Previous] says which
// previous secrets a push needed, and [Codec.EncryptReplyFor] answers with
// them. A previous key needs a current key. Errors never contain the token
// or key.
func WithPrevious(token, encodingAESKey string) Option {
	return func(o *options) error {
		o.prevToken = token
		o.prevKey = encodingAESKey
		return nil
	}
}

// modeSet is a set of [Mode] values, one bit per mode.
type modeSet uint8

func (s modeSet) has(m Mode) bool { return s&(1<<m) != 0 }

// String lists the modes, for error messages: "safe", "plaintext|safe".
func (s modeSet) String() string {
	var names []string
	for _, m := range [...]Mode{ModePlaintext, ModeCompatible, ModeSafe} {
		if s.has(m) {
			names = append(names, m.String())
		}
	}
	return strings.Join(names, "|")
}

// Secrets is a set of a codec's previous secrets ([WithPrevious]).
type Secrets uint8

// The previous secrets of a [Codec].
const (
	// PreviousToken is the push Token before the rotation.
	PreviousToken Secrets = 1 << iota
	// PreviousKey is the EncodingAESKey before the rotation.
	PreviousKey
)
