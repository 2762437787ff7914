package wxcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"testing"
)

func decodeB64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

// cbcDecrypt decrypts ct with the standard library's CBC mode, without
// removing the padding.
func cbcDecrypt(k *Key, ct []byte) []byte {
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(k.block, k.key[:aes.BlockSize]).CryptBlocks(out, ct)
	return out
}

// cbcEncrypt encrypts plain (a multiple of 16 bytes) and returns base64.
func cbcEncrypt(k *Key, plain []byte) string {
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(k.block, k.key[:aes.BlockSize]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}
