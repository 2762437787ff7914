package wxcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

const (
	keyLen     = 32 // AES-256
	padBlock   = 32 // WeChat's PKCS#7 block size (not the AES block size)
	randomLen  = 16 // random prefix of the plaintext
	headerLen  = randomLen + 4
	encodedLen = 43 // EncodingAESKey length
)

// Key is a parsed EncodingAESKey: the AES-256 key, whose first 16 bytes are
// also the CBC IV. A Key is immutable and safe for concurrent use.
type Key struct {
	key   [keyLen]byte
	block cipher.Block
}

// ParseKey parses an EncodingAESKey: exactly 43 characters from
// [A-Za-z0-9], decoded as non-strict standard base64 of the key plus "=" to
// 32 bytes. Any other input returns an error wrapping [ErrKey]; the error
// never contains the key.
func ParseKey(encodingAESKey string) (*Key, error) {
	if len(encodingAESKey) != encodedLen {
		return nil, fmt.Errorf("%w: length %d, want %d", ErrKey, len(encodingAESKey), encodedLen)
	}
	for i := 0; i < len(encodingAESKey); i++ {
		c := encodingAESKey[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return nil, fmt.Errorf("%w: character at offset %d is not [A-Za-z0-9]", ErrKey, i)
		}
	}
	k := new(Key)
	n, err := base64.StdEncoding.Decode(k.key[:], []byte(encodingAESKey+"="))
	if err != nil || n != keyLen {
		return nil, fmt.Errorf("%w: does not decode to %d bytes", ErrKey, keyLen)
	}
	k.block, err = aes.NewCipher(k.key[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return k, nil
}

// Decrypt base64-decodes and decrypts an Encrypt value (AES-256-CBC, IV =
// key[:16]), checks the ciphertext length, the 32-byte PKCS#7 padding (last
// byte 1..32, all pad bytes equal) and the msg_len bounds, and returns the
// message bytes and the receiveid found at the tail. It does not check the
// receiveid; [Codec.Decode] does.
//
// Errors wrap [ErrBase64], [ErrCiphertext], [ErrPadding] or [ErrLength].
func (k *Key) Decrypt(encrypt string) (msg []byte, receiveID string, err error) {
	msg, rid, err := k.decrypt(encrypt)
	if err != nil {
		return nil, "", err
	}
	return msg, string(rid), nil
}

// decrypt is [Key.Decrypt] returning the receiveid as bytes (a sub-slice
// of the decryption buffer).
func (k *Key) decrypt(encrypt string) (msg, rid []byte, err error) {
	ct, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBase64, err)
	}
	return k.open(ct)
}

// decryptInto is [Key.decrypt] on the Encrypt text as bytes, decrypting in
// buf (grown as needed, and returned): msg and rid are sub-slices of it.
func (k *Key) decryptInto(buf, encrypt []byte) (msg, rid, out []byte, err error) {
	out = slices.Grow(buf[:0], base64.StdEncoding.DecodedLen(len(encrypt)))
	ct := out[:base64.StdEncoding.DecodedLen(len(encrypt))]
	n, err := base64.StdEncoding.Decode(ct, encrypt)
	if err != nil {
		return nil, nil, out, fmt.Errorf("%w: %v", ErrBase64, err)
	}
	msg, rid, err = k.open(ct[:n])
	return msg, rid, out, err
}

// open decrypts ct in place and splits the plaintext.
func (k *Key) open(ct []byte) (msg, rid []byte, err error) {
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, nil, fmt.Errorf("%w: length %d is not a positive multiple of %d", ErrCiphertext, len(ct), aes.BlockSize)
	}
	// CBC decryption in place, last block first, so that the previous
	// ciphertext block is still intact when it is needed.
	for i := len(ct) - aes.BlockSize; i >= 0; i -= aes.BlockSize {
		b := ct[i : i+aes.BlockSize]
		k.block.Decrypt(b, b)
		prev := k.key[:aes.BlockSize]
		if i > 0 {
			prev = ct[i-aes.BlockSize : i]
		}
		subtleXOR(b, prev)
	}
	pad := int(ct[len(ct)-1])
	if pad < 1 || pad > padBlock || pad > len(ct) {
		return nil, nil, fmt.Errorf("%w: pad length %d", ErrPadding, pad)
	}
	var bad byte
	for _, c := range ct[len(ct)-pad:] {
		bad |= c ^ byte(pad)
	}
	if bad != 0 {
		return nil, nil, fmt.Errorf("%w: inconsistent pad bytes", ErrPadding)
	}
	plain := ct[:len(ct)-pad]
	if len(plain) < headerLen {
		return nil, nil, fmt.Errorf("%w: plaintext of %d bytes is too short", ErrCiphertext, len(plain))
	}
	n := binary.BigEndian.Uint32(plain[randomLen:headerLen])
	if uint64(n) > uint64(len(plain)-headerLen) {
		return nil, nil, fmt.Errorf("%w: msg_len %d exceeds %d available bytes", ErrLength, n, len(plain)-headerLen)
	}
	end := headerLen + int(n)
	return plain[headerLen:end:end], plain[end:], nil
}

func subtleXOR(dst, src []byte) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// Encrypt builds an Encrypt value: base64(AES-256-CBC(random ‖ msg_len ‖ msg
// ‖ receiveID ‖ pad32)), where the 16 random bytes are read from r
// (crypto/rand.Reader in production, a fixed reader in tests).
func (k *Key) Encrypt(r io.Reader, msg []byte, receiveID string) (string, error) {
	n := headerLen + len(msg) + len(receiveID)
	if uint64(len(msg)) > 1<<32-1 {
		return "", fmt.Errorf("wxcodec: message of %d bytes is too long to encrypt", len(msg))
	}
	pad := padBlock - n%padBlock
	buf := make([]byte, n+pad)
	if _, err := io.ReadFull(r, buf[:randomLen]); err != nil {
		return "", fmt.Errorf("wxcodec: read random: %w", err)
	}
	binary.BigEndian.PutUint32(buf[randomLen:headerLen], uint32(len(msg)))
	copy(buf[headerLen:], msg)
	copy(buf[headerLen+len(msg):], receiveID)
	for i := n; i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	prev := k.key[:aes.BlockSize]
	for i := 0; i < len(buf); i += aes.BlockSize {
		b := buf[i : i+aes.BlockSize]
		subtleXOR(b, prev)
		k.block.Encrypt(b, b)
		prev = b
	}
	return base64.StdEncoding.EncodeToString(buf), nil
}
