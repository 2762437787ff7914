package wxcodec

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/kfbridge/kfbridge/internal/jsonenc"
)

// MsgTypeTransfer is the MsgType of the transfer_customer_service reply.
const MsgTypeTransfer = "transfer_customer_service"

// Reply is a passive reply. For mini programs only transfer_customer_service
// (see [TransferReply]) is meaningful; answering "success" or an empty body
// is the caller's job.
type Reply struct {
	ToUserName   string // the user's openid
	FromUserName string // the mini program original id
	CreateTime   int64  // Unix seconds
	MsgType      string
}

// TransferReply builds the transfer_customer_service reply to m, which
// hands m to the web customer-service tool. To and From are swapped
// relative to m.
func TransferReply(m Message, now time.Time) Reply {
	return Reply{
		ToUserName:   m.FromUserName,
		FromUserName: m.ToUserName,
		CreateTime:   now.Unix(),
		MsgType:      MsgTypeTransfer,
	}
}

// EncodeReply returns the plaintext reply body in format f: an <xml>
// document with CDATA strings and a plain CreateTime, or a JSON object with
// a number CreateTime. It returns nil for an unknown format.
func EncodeReply(f Format, r Reply) []byte {
	var b []byte
	switch f {
	case FormatXML:
		b = append(b, "<xml>"...)
		b = appendXMLStringElem(b, nameToUserName, r.ToUserName)
		b = appendXMLStringElem(b, nameFromUserName, r.FromUserName)
		b = appendXMLRawElem(b, nameCreateTime, strconv.FormatInt(r.CreateTime, 10))
		b = appendXMLStringElem(b, nameMsgType, r.MsgType)
		b = append(b, "</xml>"...)
	case FormatJSON:
		b = append(b, `{"ToUserName":`...)
		b = jsonenc.AppendString(b, r.ToUserName)
		b = append(b, `,"FromUserName":`...)
		b = jsonenc.AppendString(b, r.FromUserName)
		b = append(b, `,"CreateTime":`...)
		b = strconv.AppendInt(b, r.CreateTime, 10)
		b = append(b, `,"MsgType":`...)
		b = jsonenc.AppendString(b, r.MsgType)
		b = append(b, '}')
	}
	return b
}

// EncryptReply wraps the plaintext reply body plaintext for safe or
// compatible mode: it encrypts it with 16 random bytes read from r and the
// AppID as receiveid, and signs it with timestamp and nonce (usually the
// nonce of the request). The XML form carries Encrypt, MsgSignature and
// Nonce in CDATA and TimeStamp as plain text; the JSON form is
// {"Encrypt":"…","MsgSignature":"…","TimeStamp":123,"Nonce":"…"}.
// It uses the current token and key; [Codec.EncryptReplyFor] answers a
// push with the ones it was sent with. It returns [ErrNoKey] when the
// codec has no key and [ErrFormat] for an unknown format.
func (c *Codec) EncryptReply(r io.Reader, f Format, plaintext []byte, timestamp int64, nonce string) ([]byte, error) {
	return c.encryptReply(0, r, f, plaintext, timestamp, nonce)
}

// EncryptReplyFor is [Codec.EncryptReply] for the reply to p: in p's
// format, encrypted with the key that decrypted p and signed with the token
// that signed it (the previous ones when p.Previous says so), so that
// WeChat, still using them, can read it.
func (c *Codec) EncryptReplyFor(p *Push, r io.Reader, plaintext []byte, timestamp int64, nonce string) ([]byte, error) {
	return c.encryptReply(p.Previous, r, p.Format, plaintext, timestamp, nonce)
}

func (c *Codec) encryptReply(used Secrets, r io.Reader, f Format, plaintext []byte, timestamp int64, nonce string) ([]byte, error) {
	if f != FormatXML && f != FormatJSON {
		return nil, fmt.Errorf("%w: %v", ErrFormat, f)
	}
	key, token := c.key, c.token
	if used&PreviousKey != 0 && c.prevKey != nil {
		key = c.prevKey
	}
	if used&PreviousToken != 0 && c.prevToken != "" {
		token = c.prevToken
	}
	if key == nil {
		return nil, ErrNoKey
	}
	enc, err := key.Encrypt(r, plaintext, c.appID)
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(timestamp, 10)
	sig := MsgSignature(token, ts, nonce, enc)
	var b []byte
	if f == FormatXML {
		b = append(b, "<xml>\n"...)
		b = appendXMLStringElem(b, "Encrypt", enc)
		b = append(b, '\n')
		b = appendXMLStringElem(b, "MsgSignature", sig)
		b = append(b, '\n')
		b = appendXMLRawElem(b, "TimeStamp", ts)
		b = append(b, '\n')
		b = appendXMLStringElem(b, "Nonce", nonce)
		b = append(b, "\n</xml>"...)
		return b, nil
	}
	b = append(b, `{"Encrypt":`...)
	b = jsonenc.AppendString(b, enc)
	b = append(b, `,"MsgSignature":`...)
	b = jsonenc.AppendString(b, sig)
	b = append(b, `,"TimeStamp":`...)
	b = append(b, ts...)
	b = append(b, `,"Nonce":`...)
	b = jsonenc.AppendString(b, nonce)
	b = append(b, '}')
	return b, nil
}
