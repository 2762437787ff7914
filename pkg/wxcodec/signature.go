package wxcodec

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Signature returns the 3-part signature WeChat puts in the signature query
// parameter: the lower-case hex SHA-1 of token, timestamp and nonce sorted
// as byte strings and concatenated.
func Signature(token, timestamp, nonce string) string {
	sum := signature3(token, timestamp, nonce)
	return hex.EncodeToString(sum[:])
}

// MsgSignature returns the 4-part signature WeChat puts in the
// msg_signature query parameter (and that encrypted replies carry as
// MsgSignature): like [Signature] but over token, timestamp, nonce and the
// Encrypt text.
func MsgSignature(token, timestamp, nonce, encrypt string) string {
	sum := signature4(token, timestamp, nonce, encrypt)
	return hex.EncodeToString(sum[:])
}

func signature3(a, b, c string) [sha1.Size]byte {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b, c = c, b
	}
	if a > b {
		a, b = b, a
	}
	var buf [256]byte
	p := append(buf[:0], a...)
	p = append(p, b...)
	p = append(p, c...)
	return sha1.Sum(p)
}

func signature4(a, b, c, d string) [sha1.Size]byte {
	v := [4]string{a, b, c, d}
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	var buf [1024]byte
	p := append(buf[:0], v[0]...)
	p = append(p, v[1]...)
	p = append(p, v[2]...)
	p = append(p, v[3]...)
	return sha1.Sum(p)
}

// equalHex reports in constant time (for a given length) whether the
// lower-case hex encoding of sum equals got.
func equalHex(sum [sha1.Size]byte, got string) bool {
	if len(got) != 2*sha1.Size {
		return false
	}
	const digits = "0123456789abcdef"
	var v byte
	for i, b := range sum {
		v |= digits[b>>4] ^ got[2*i]
		v |= digits[b&0x0f] ^ got[2*i+1]
	}
	return v == 0
}

// CheckTimestamp returns an error wrapping [ErrTimestamp] when ts is not a
// decimal Unix time in seconds within ±window of now.
func CheckTimestamp(ts string, now time.Time, window time.Duration) error {
	if ts == "" || len(ts) > 19 {
		return fmt.Errorf("%w: %q is not a unix time", ErrTimestamp, ts)
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return fmt.Errorf("%w: %q is not a unix time", ErrTimestamp, ts)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not a unix time", ErrTimestamp, ts)
	}
	d := now.Unix() - sec
	if d < 0 {
		d = -d
	}
	if window < 0 || d > int64(window/time.Second) {
		return fmt.Errorf("%w: %s is more than %v away from now", ErrTimestamp, ts, window)
	}
	return nil
}

// signature4b is signature4 with the Encrypt text as bytes, so that the
// request body need not be copied into a string.
func signature4b(a, b, c string, enc []byte) [sha1.Size]byte {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b, c = c, b
	}
	if a > b {
		a, b = b, a
	}
	var buf [1024]byte
	p := buf[:0]
	placed := false
	for _, s := range [3]string{a, b, c} {
		if !placed && string(enc) < s {
			p = append(p, enc...)
			placed = true
		}
		p = append(p, s...)
	}
	if !placed {
		p = append(p, enc...)
	}
	return sha1.Sum(p)
}
