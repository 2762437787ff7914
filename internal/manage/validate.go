package manage

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Nickname widths a sub-merchant's nickname must have (a Chinese character
// counts 2).
const (
	minNicknameWidth = 4
	maxNicknameWidth = 30
)

// isChinese reports whether r counts as a Chinese character of a nickname:
// CJK Unified Ideographs, Extension A and the compatibility ideographs, the
// ranges the schemas' nickname pattern lists.
func isChinese(r rune) bool {
	return 0x3400 <= r && r <= 0x4DBF || 0x4E00 <= r && r <= 0x9FFF || 0xF900 <= r && r <= 0xFAFF
}

// nicknameWidth returns the width of nick, a Chinese character counting 2,
// and whether every character is a Chinese character, an English letter or
// a digit.
func nicknameWidth(nick string) (int, bool) {
	width := 0
	for _, r := range nick {
		switch {
		case r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'):
			width++
		case isChinese(r):
			width += 2
		default:
			return width, false
		}
	}
	return width, true
}

// checkNickname applies WeChat's whole nickname rule; the schema has
// checked the characters already, JSON Schema cannot weigh them.
func checkNickname(nick string) error {
	w, ok := nicknameWidth(nick)
	switch {
	case !ok:
		return invalid("/nickname: want Chinese characters, English letters and digits only")
	case w < minNicknameWidth || w > maxNicknameWidth:
		return invalid("/nickname: is %d wide, want %d to %d (a Chinese character counts 2)", w, minNicknameWidth, maxNicknameWidth)
	}
	return nil
}

// decode decodes a validated body into v; what the schema lets through but
// Go cannot hold (an integer written 1.0, say) is a [CodeInvalid] error.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalid("/%s: want %s", te.Field, te.Type)
		}
		return invalid("%v", err)
	}
	return nil
}
