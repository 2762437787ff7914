package wxpush

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

func TestCheckAnswer(t *testing.T) {
	signer := newTestSigner(t, "http://127.0.0.1:8080")
	codec, err := wxcodec.New(demo.AppID, demo.Token, demo.EncodingAESKey, anyMode)
	if err != nil {
		t.Fatal(err)
	}
	other, err := wxcodec.New("wxother", demo.Token, demo.EncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sign := func(kind string, f wxcodec.Format, mode wxcodec.Mode) *Request {
		req, err := signer.Sign(Spec{Kind: kind, Format: f, Mode: mode, OpenID: demo.OpenID, To: demo.OriginalID, MsgID: "1"}, now)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	transfer := func(f wxcodec.Format) []byte {
		return wxcodec.EncodeReply(f, wxcodec.TransferReply(wxcodec.Message{FromUserName: demo.OpenID, ToUserName: demo.OriginalID}, now))
	}
	encrypt := func(c *wxcodec.Codec, f wxcodec.Format, plain []byte) []byte {
		b, err := c.EncryptReply(rand.Reader, f, plain, now.Unix(), "123")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	xmlPlain, jsonPlain := sign(KindText, wxcodec.FormatXML, wxcodec.ModePlaintext), sign(KindText, wxcodec.FormatJSON, wxcodec.ModePlaintext)
	xmlSafe, jsonSafe := sign(KindText, wxcodec.FormatXML, wxcodec.ModeSafe), sign(KindText, wxcodec.FormatJSON, wxcodec.ModeSafe)
	jsonCompat := sign(KindText, wxcodec.FormatJSON, wxcodec.ModeCompatible)
	event := sign(KindUserEnterTempSession, wxcodec.FormatXML, wxcodec.ModePlaintext)

	tests := []struct {
		name       string
		req        *Request
		status     int
		body       []byte
		wantAnswer string
		wantErr    error
	}{
		{"success", xmlSafe, 200, []byte("success"), AnswerSuccess, nil},
		{"empty", jsonPlain, 200, nil, AnswerEmpty, nil},
		{"plaintext transfer xml", xmlPlain, 200, transfer(wxcodec.FormatXML), AnswerTransfer, nil},
		{"plaintext transfer json", jsonPlain, 200, transfer(wxcodec.FormatJSON), AnswerTransfer, nil},
		{"plaintext transfer in compatible mode", jsonCompat, 200, transfer(wxcodec.FormatJSON), AnswerTransfer, nil},
		{"encrypted transfer xml", xmlSafe, 200, encrypt(codec, wxcodec.FormatXML, transfer(wxcodec.FormatXML)), AnswerTransferEncrypted, nil},
		{"encrypted transfer json", jsonSafe, 200, encrypt(codec, wxcodec.FormatJSON, transfer(wxcodec.FormatJSON)), AnswerTransferEncrypted, nil},
		{"encrypted transfer in compatible mode", jsonCompat, 200, encrypt(codec, wxcodec.FormatJSON, transfer(wxcodec.FormatJSON)), AnswerTransferEncrypted, nil},
		{"status 503", xmlPlain, 503, []byte("publish failed"), `"publish failed"`, ErrStatus},
		{"status 204", xmlPlain, 204, nil, `""`, ErrStatus},
		{"success with a newline", xmlPlain, 200, []byte("success\n"), "", ErrReply},
		{"not a reply", xmlPlain, 200, []byte("ok"), "", ErrReply},
		{"other MsgType", xmlPlain, 200, []byte("<xml><MsgType>text</MsgType></xml>"), "", ErrReply},
		{"reply in the other format", xmlPlain, 200, transfer(wxcodec.FormatJSON), "", ErrReply},
		{"plaintext reply in safe mode", xmlSafe, 200, transfer(wxcodec.FormatXML), "", ErrReply},
		{"encrypted reply in plaintext mode", xmlPlain, 200, encrypt(codec, wxcodec.FormatXML, transfer(wxcodec.FormatXML)), "", ErrReply},
		{"encrypted for another app", xmlSafe, 200, encrypt(other, wxcodec.FormatXML, transfer(wxcodec.FormatXML)), "", ErrReply},
		{"bad msg signature", jsonSafe, 200, []byte(strings.Replace(string(encrypt(codec, wxcodec.FormatJSON, transfer(wxcodec.FormatJSON))), `"MsgSignature":"`, `"MsgSignature":"0`, 1)), "", ErrReply},
		{"transfer to an event", event, 200, transfer(wxcodec.FormatXML), "", ErrReply},
		{"transfer to someone else", xmlPlain, 200, wxcodec.EncodeReply(wxcodec.FormatXML, wxcodec.TransferReply(wxcodec.Message{FromUserName: "oOther", ToUserName: demo.OriginalID}, now)), "", ErrReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer, err := signer.CheckAnswer(tt.req, tt.status, tt.body)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("CheckAnswer(%d, %q) error = %v, want %v", tt.status, tt.body, err, tt.wantErr)
			}
			if tt.wantAnswer != "" && answer != tt.wantAnswer {
				t.Errorf("CheckAnswer(%d, %q) = %q, want %q", tt.status, tt.body, answer, tt.wantAnswer)
			}
		})
	}
}
