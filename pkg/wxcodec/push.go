package wxcodec

import (
	"fmt"
	"io"
)

// Push is a verified, decrypted and parsed push.
type Push struct {
	// Message is the decoded message or event. In compatible mode it comes
	// from the decrypted Encrypt only.
	Message Message
	// Format is the format of the request body, which is also the format
	// a passive reply must use.
	Format Format
	// Mode is the encryption mode detected for this request.
	Mode Mode
	// Previous holds the previous secrets ([WithPrevious]) the push
	// needed: [PreviousToken] when only the previous token signed it,
	// [PreviousKey] when only the previous key decrypted it. Zero when the
	// current ones sufficed.
	Previous Secrets
}

// encrypted reports whether the query announces an encrypted push.
func (q Query) encrypted() bool { return q.EncryptType == "aes" || q.MsgSignature != "" }

// Decode verifies and decodes a POST push. The mode is detected per
// request: the push is encrypted when the query says so (encrypt_type=aes
// or a msg_signature) and the body has an Encrypt field, compatible when
// the body has other fields too. A push in a mode the codec does not
// accept ([WithModes]) fails with [ErrMode] before anything is parsed but
// the envelope of an encrypted push.
//
// For an encrypted push, Decode verifies msg_signature over the Encrypt
// text exactly as received, decrypts it, requires the receiveid to equal
// the AppID and parses the decrypted message only: in compatible mode the
// plaintext fields beside Encrypt are not authenticated and are ignored.
// For a plaintext push it verifies the 3-part signature and parses the
// body. Signatures are compared in constant time. The previous token and
// key ([WithPrevious]) are tried when the current ones fail. Timestamp
// freshness is not checked; see [CheckTimestamp].
//
// Errors wrap [ErrMode], [ErrFormat], [ErrSyntax], [ErrSignature],
// [ErrNotEncrypted], [ErrAppID], the errors of [Key.Decrypt], or are a
// [*FieldError]. They never contain the token or key.
func (c *Codec) Decode(q Query, body []byte) (Push, error) {
	if q.encrypted() {
		if !c.modes.has(ModeSafe) && !c.modes.has(ModeCompatible) {
			return Push{}, fmt.Errorf("%w: encrypted push, the app accepts %v", ErrMode, c.modes)
		}
		env, err := scanEnvelope(body)
		if err != nil {
			return Push{}, err
		}
		if !env.hasEncrypt {
			return Push{}, ErrNotEncrypted
		}
		mode := ModeSafe
		if env.plain {
			mode = ModeCompatible
		}
		if !c.modes.has(mode) {
			return Push{}, fmt.Errorf("%w: %v push, the app accepts %v", ErrMode, mode, c.modes)
		}
		return c.decodeEncrypted(q, env, mode)
	}
	if !c.modes.has(ModePlaintext) {
		return Push{}, fmt.Errorf("%w: plaintext push, the app accepts %v", ErrMode, c.modes)
	}
	// Authenticate before parsing anything.
	used, ok := c.verify3(&q)
	if !ok {
		return Push{}, fmt.Errorf("%w: signature does not match", ErrSignature)
	}
	m, f, err := parseMessage(body, false)
	if err != nil {
		return Push{}, err
	}
	return Push{Message: m, Format: f, Mode: ModePlaintext, Previous: used}, nil
}

func (c *Codec) decodeEncrypted(q Query, env envelope, mode Mode) (Push, error) {
	usedToken, ok := c.verify4(&q, env.encrypt)
	if !ok {
		return Push{}, fmt.Errorf("%w: msg_signature does not match", ErrSignature)
	}
	// The plaintext is parsed into a Message of its own (not owned, so
	// nothing aliases it) and its buffer is reused.
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	msg, usedKey, buf, err := c.open(*bp, env.encrypt)
	defer func() {
		if cap(buf) <= maxPooledPlaintext {
			*bp = buf
			c.bufs.Put(bp)
		}
	}()
	if err != nil {
		return Push{}, err
	}
	m, _, err := parseMessage(msg, false)
	if err != nil {
		return Push{}, fmt.Errorf("decrypted message: %w", err)
	}
	return Push{Message: m, Format: env.format, Mode: mode, Previous: usedToken | usedKey}, nil
}

// maxPooledPlaintext keeps a rare huge push from pinning memory in the pool.
const maxPooledPlaintext = 64 << 10

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// EncodePush builds a push as WeChat would send it, correctly signed, for
// the simulator and tests. The 16 random bytes of the encryption are read
// from r (unused in [ModePlaintext]).
//
//   - [ModePlaintext]: body is m; the query has Signature, Timestamp and Nonce.
//   - [ModeSafe]: body is the envelope {ToUserName, Encrypt}; the query
//     also has OpenID (m.FromUserName), EncryptType "aes" and MsgSignature.
//   - [ModeCompatible]: body is m plus an Encrypt field; same query as safe.
func (c *Codec) EncodePush(r io.Reader, f Format, mode Mode, m Message, timestamp, nonce string) (Query, []byte, error) {
	plain, err := EncodeMessage(f, m)
	if err != nil {
		return Query{}, nil, err
	}
	q := Query{Signature: Signature(c.token, timestamp, nonce), Timestamp: timestamp, Nonce: nonce}
	if mode == ModePlaintext {
		return q, plain, nil
	}
	if mode != ModeSafe && mode != ModeCompatible {
		return Query{}, nil, fmt.Errorf("wxcodec: unknown mode %v", mode)
	}
	if c.key == nil {
		return Query{}, nil, ErrNoKey
	}
	enc, err := c.key.Encrypt(r, plain, c.appID)
	if err != nil {
		return Query{}, nil, err
	}
	q.OpenID = m.FromUserName
	q.EncryptType = "aes"
	q.MsgSignature = MsgSignature(c.token, timestamp, nonce, enc)
	var body []byte
	if mode == ModeSafe {
		body = appendEnvelope(nil, f, m.ToUserName, enc)
	} else {
		body = appendEncryptField(plain, f, enc)
	}
	return q, body, nil
}
