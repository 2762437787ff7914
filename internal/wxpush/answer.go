package wxpush

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// Answers that WeChat takes as "received", as [Signer.CheckAnswer] names
// them.
const (
	// AnswerSuccess is the body "success".
	AnswerSuccess = "success"
	// AnswerEmpty is an empty body.
	AnswerEmpty = "empty"
	// AnswerTransfer is a plaintext transfer_customer_service reply.
	AnswerTransfer = wxcodec.MsgTypeTransfer
	// AnswerTransferEncrypted is an encrypted transfer_customer_service reply.
	AnswerTransferEncrypted = wxcodec.MsgTypeTransfer + " (encrypted)"
)

// maxAnswer bounds how much of an answer body is read.
const maxAnswer = 64 << 10

// CheckAnswer reports how WeChat takes the answer to req with HTTP status
// status and body body. The push is delivered, and the error nil, on a 200
// whose body is "success", empty, or a valid transfer_customer_service
// passive reply to a user message: in the push's format, addressed back to
// its sender, plaintext in plaintext and compatible mode, encrypted and
// correctly signed (msg_signature over its own TimeStamp and Nonce) in safe
// and compatible mode. The answer names what was received ([AnswerSuccess],
// …) or what was wrong with it.
//
// Errors wrap [ErrStatus] for a status other than 200 and [ErrReply] for
// anything else WeChat would show the user as "customer service
// unavailable".
func (s *Signer) CheckAnswer(req *Request, status int, body []byte) (answer string, err error) {
	if status != http.StatusOK {
		return quote(body), fmt.Errorf("%w: %d %s", ErrStatus, status, http.StatusText(status))
	}
	switch {
	case len(body) == 0:
		return AnswerEmpty, nil
	case string(body) == "success":
		return AnswerSuccess, nil
	}
	answer, err = s.checkReply(req, body)
	if err != nil {
		return fmt.Sprintf("abnormal reply %s: %v", quoteN(body, 40), err), fmt.Errorf("%w: %w", ErrReply, err)
	}
	return answer, nil
}

// checkReply checks a passive reply.
func (s *Signer) checkReply(req *Request, body []byte) (string, error) {
	f, err := wxcodec.Sniff(body)
	if err != nil {
		return "", errors.New(`neither "success", empty, XML nor JSON`)
	}
	if f != req.Spec.Format {
		return "", fmt.Errorf("%v reply to a %v push", f, req.Spec.Format)
	}
	env, err := wxcodec.ParseEnvelope(body)
	if err != nil {
		return "", err
	}
	if env.Encrypt == "" {
		if req.Spec.Mode == wxcodec.ModeSafe {
			return "", fmt.Errorf("plaintext reply in safe mode")
		}
		m, err := wxcodec.ParseMessage(body)
		if err != nil {
			return "", err
		}
		return AnswerTransfer, checkTransfer(req, &m)
	}
	if req.Spec.Mode == wxcodec.ModePlaintext {
		return "", fmt.Errorf("encrypted reply in plaintext mode")
	}
	plain, err := s.openReply(f, body)
	if err != nil {
		return "", err
	}
	if pf, err := wxcodec.Sniff(plain); err != nil || pf != f {
		return "", fmt.Errorf("decrypted reply is not %v", f)
	}
	m, err := wxcodec.ParseMessage(plain)
	if err != nil {
		return "", fmt.Errorf("decrypted reply: %w", err)
	}
	return AnswerTransferEncrypted, checkTransfer(req, &m)
}

// checkTransfer checks that m is a transfer_customer_service reply to req.
func checkTransfer(req *Request, m *wxcodec.Message) error {
	switch {
	case m.MsgType != wxcodec.MsgTypeTransfer:
		return fmt.Errorf("MsgType %q: a mini program may only reply %s", m.MsgType, wxcodec.MsgTypeTransfer)
	case req.Spec.IsEvent():
		return fmt.Errorf("%s reply to an event", wxcodec.MsgTypeTransfer)
	case m.ToUserName != req.Spec.OpenID || m.FromUserName != req.Spec.To:
		return fmt.Errorf("reply from %q to %q, want from %q to %q", m.FromUserName, m.ToUserName, req.Spec.To, req.Spec.OpenID)
	}
	return nil
}

// openReply verifies and decrypts an encrypted passive reply.
func (s *Signer) openReply(f wxcodec.Format, body []byte) ([]byte, error) {
	if s.key == nil {
		return nil, wxcodec.ErrNoKey
	}
	var r struct {
		Encrypt, MsgSignature, TimeStamp, Nonce string
	}
	if f == wxcodec.FormatXML {
		if err := xml.Unmarshal(body, &r); err != nil {
			return nil, err
		}
	} else {
		var j struct {
			Encrypt, MsgSignature, Nonce string
			TimeStamp                    json.Number
		}
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&j); err != nil {
			return nil, err
		}
		r.Encrypt, r.MsgSignature, r.TimeStamp, r.Nonce = j.Encrypt, j.MsgSignature, j.TimeStamp.String(), j.Nonce
	}
	if _, err := strconv.ParseInt(r.TimeStamp, 10, 64); err != nil {
		return nil, fmt.Errorf("TimeStamp %q is not an integer", r.TimeStamp)
	}
	if r.Nonce == "" {
		return nil, fmt.Errorf("no Nonce")
	}
	if r.MsgSignature != wxcodec.MsgSignature(s.app.Token, r.TimeStamp, r.Nonce, r.Encrypt) {
		return nil, wxcodec.ErrSignature
	}
	msg, rid, err := s.key.Decrypt(r.Encrypt)
	if err != nil {
		return nil, err
	}
	if rid != s.app.AppID {
		return nil, fmt.Errorf("%w: receiveid %q", wxcodec.ErrAppID, rid)
	}
	return msg, nil
}

// quote returns the start of an answer body, quoted for one log line.
func quote(body []byte) string { return quoteN(body, 120) }

// quoteN quotes at most the first n bytes of body.
func quoteN(body []byte, n int) string {
	if len(body) > n {
		return strconv.Quote(string(body[:n])) + "…"
	}
	return strconv.Quote(string(body))
}
