package events

import "fmt"

// Subject prefixes of the wire contract.
const (
	// InboundPrefix starts every subject of a push from a user.
	InboundPrefix = "wxkf.in."
	// InboundSubjects matches every push subject.
	InboundSubjects = "wxkf.in.>"
	// MainBusinessID is the bid token of the main account (no BusinessId).
	MainBusinessID = "0"
	// NoOpenID is the openid token of a push without FromUserName.
	NoOpenID = "_"
)

// ValidToken reports whether s may be used as a subject token: non-empty and
// made of [A-Za-z0-9_-] only.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CheckToken returns an error wrapping [ErrToken] that names the token when
// value is not a [ValidToken].
func CheckToken(name, value string) error {
	if !ValidToken(value) {
		return fmt.Errorf("%w: %s %q", ErrToken, name, value)
	}
	return nil
}

// InboundSubject returns wxkf.in.<appid>.<bid>.<openid>.<kind>, or an error
// wrapping [ErrToken] naming the first bad token.
func InboundSubject(appid, bid, openid, kind string) (string, error) {
	for _, t := range [...]struct{ name, value string }{
		{"appid", appid}, {"bid", bid}, {"openid", openid}, {"kind", kind},
	} {
		if err := CheckToken(t.name, t.value); err != nil {
			return "", err
		}
	}
	return InboundPrefix + appid + "." + bid + "." + openid + "." + kind, nil
}
