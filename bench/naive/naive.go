// Package naive is the baseline kfbridge's ingress is measured against: the
// straightforward pipeline the performance goal names — encoding/xml for the
// envelope and the message, a textbook AES-CBC decrypt, the CloudEvents SDK
// to build the event, encoding/json, and a JetStream publish with dedup —
// behind the same gin router. It is a measuring stick, not a product: it
// checks only what it must to be comparable.
//
// # Concurrency
//
// A [Pipeline] is safe for concurrent use.
//
// # Errors
//
// Handle returns parse, signature and publish errors as they come.
package naive

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// Pipeline handles safe-mode XML pushes of one app.
type Pipeline struct {
	appid, token string
	key          []byte
	js           jetstream.JetStream
}

// New returns a Pipeline for one app.
func New(js jetstream.JetStream, appid, token, encodingAESKey string) (*Pipeline, error) {
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("naive: bad EncodingAESKey")
	}
	return &Pipeline{appid: appid, token: token, key: key, js: js}, nil
}

type envelope struct {
	ToUserName string `xml:"ToUserName"`
	Encrypt    string `xml:"Encrypt"`
}

type message struct {
	ToUserName   string `xml:"ToUserName" json:"to_user_name"`
	FromUserName string `xml:"FromUserName" json:"openid"`
	CreateTime   int64  `xml:"CreateTime" json:"create_time"`
	MsgType      string `xml:"MsgType" json:"msg_type"`
	Content      string `xml:"Content" json:"content"`
	MsgID        string `xml:"MsgId" json:"msg_id"`
}

// Handle verifies, decrypts, parses, builds the event and publishes it.
func (p *Pipeline) Handle(ctx context.Context, q wxcodec.Query, body []byte) error {
	var env envelope
	if err := xml.Unmarshal(body, &env); err != nil {
		return err
	}
	if wxcodec.MsgSignature(p.token, q.Timestamp, q.Nonce, env.Encrypt) != q.MsgSignature {
		return errors.New("naive: bad signature")
	}
	ct, err := base64.StdEncoding.DecodeString(env.Encrypt)
	if err != nil {
		return err
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return errors.New("naive: bad ciphertext")
	}
	block, err := aes.NewCipher(p.key)
	if err != nil {
		return err
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, p.key[:16]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 || pad > len(plain)-20 {
		return errors.New("naive: bad padding")
	}
	plain = plain[:len(plain)-pad]
	n := int(binary.BigEndian.Uint32(plain[16:20]))
	if 20+n > len(plain) || string(plain[20+n:]) != p.appid {
		return errors.New("naive: bad appid")
	}
	var m message
	if err := xml.Unmarshal(plain[20:20+n], &m); err != nil {
		return err
	}
	e := cloudevents.New()
	e.SetID(m.MsgID)
	e.SetSource("/wxkf/" + p.appid + "/0")
	e.SetType("weixin.kf.message." + m.MsgType)
	e.SetSubject(m.FromUserName)
	e.SetTime(time.Unix(m.CreateTime, 0))
	e.SetExtension("appid", p.appid)
	e.SetExtension("businessid", "0")
	if err := e.SetData("application/json", m); err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	msg := nats.NewMsg("wxkf.in." + p.appid + ".0." + m.FromUserName + "." + m.MsgType)
	msg.Data = data
	msg.Header.Set("Nats-Msg-Id", p.appid+":"+m.MsgID)
	_, err = p.js.PublishMsg(ctx, msg)
	return err
}

// Router serves POST /wx/:appid with the pipeline, as the ingress does.
func (p *Pipeline) Router() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/wx/:appid", func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err == nil {
			err = p.Handle(c.Request.Context(), wxcodec.ParseQuery(c.Request.URL.Query()), body)
		}
		if err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		c.String(http.StatusOK, "success")
	})
	return r
}
