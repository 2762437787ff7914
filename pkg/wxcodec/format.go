package wxcodec

import (
	"fmt"
	"strconv"
)

// Format is the data format of a push body: [FormatXML] or [FormatJSON].
type Format uint8

// Formats chosen in the mini program console ("data format").
const (
	// FormatXML is an XML document, usually rooted at <xml>.
	FormatXML Format = iota + 1
	// FormatJSON is a JSON object.
	FormatJSON
)

// String returns "xml" or "json".
func (f Format) String() string {
	switch f {
	case FormatXML:
		return "xml"
	case FormatJSON:
		return "json"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Sniff reports the format of body from its first byte that is not white
// space (a leading UTF-8 byte order mark is skipped too): '<' is
// [FormatXML] and '{' is [FormatJSON]. Anything else returns [ErrFormat].
func Sniff(body []byte) (Format, error) {
	i := skipBOM(body)
	for ; i < len(body); i++ {
		switch body[i] {
		case ' ', '\t', '\r', '\n':
			continue
		case '<':
			return FormatXML, nil
		case '{':
			return FormatJSON, nil
		}
		break
	}
	return 0, ErrFormat
}

// skipBOM returns 3 when s starts with a UTF-8 byte order mark, else 0.
func skipBOM[T string | []byte](s T) int {
	if len(s) >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF {
		return 3
	}
	return 0
}

// Mode is the encryption mode of a push ("encryption mode" in the console).
type Mode uint8

// Encryption modes.
const (
	// ModePlaintext is a push without encryption, authenticated by signature.
	ModePlaintext Mode = iota + 1
	// ModeCompatible is an encrypted push whose body also carries the
	// plaintext fields (which are ignored: only Encrypt is authenticated).
	ModeCompatible
	// ModeSafe is an encrypted push whose body carries only ToUserName and Encrypt.
	ModeSafe
)

// String returns "plaintext", "compatible" or "safe".
func (m Mode) String() string {
	switch m {
	case ModePlaintext:
		return "plaintext"
	case ModeCompatible:
		return "compatible"
	case ModeSafe:
		return "safe"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "plaintext", "compatible" or "safe", the names
// [Mode.String] returns. Other input returns an error wrapping [ErrConfig].
func ParseMode(s string) (Mode, error) {
	for _, m := range [...]Mode{ModePlaintext, ModeCompatible, ModeSafe} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: mode %q: want plaintext, compatible or safe", ErrConfig, s)
}
