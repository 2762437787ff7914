package wxcodec_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// The safe-mode JSON example of the official message-push documentation.
const (
	exampleToken   = "AAAAA"
	exampleKey     = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	exampleAppID   = "wxba5fad812f8e6fb9"
	exampleEncrypt = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="
)

func ExampleParseKey() {
	key, err := wxcodec.ParseKey(exampleKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, receiveID, err := key.Decrypt(exampleEncrypt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(receiveID)
	fmt.Println(string(msg))
	// Output:
	// wxba5fad812f8e6fb9
	// {"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}
}

func ExampleSignature() {
	// GET verification example of the official documentation.
	fmt.Println(wxcodec.Signature("AAAAA", "1714036504", "1514711492"))
	// Output:
	// f464b24fc39322e44b38aa78f5edd27bd1441696
}

func ExampleCodec_VerifyURL() {
	codec, err := wxcodec.New(exampleAppID, exampleToken, exampleKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	q := wxcodec.ParseQuery(url.Values{
		"signature": {"f464b24fc39322e44b38aa78f5edd27bd1441696"},
		"timestamp": {"1714036504"},
		"nonce":     {"1514711492"},
		"echostr":   {"4375120948345356249"},
	})
	body, err := codec.VerifyURL(q)
	fmt.Println(body, err)
	// Output:
	// 4375120948345356249 <nil>
}

func ExampleCodec_Decode() {
	codec, err := wxcodec.New(exampleAppID, exampleToken, exampleKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The query and body of the official safe-mode JSON push.
	q := wxcodec.ParseQuery(url.Values{
		"signature":     {"6c5c811b55cc85e0e1b54100749188c20beb3f5d"},
		"timestamp":     {"1714112445"},
		"nonce":         {"415670741"},
		"openid":        {"o9AgO5Kd5ggOC-bXrbNODIiE3bGY"},
		"encrypt_type":  {"aes"},
		"msg_signature": {"046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"},
	})
	body := []byte(`{"ToUserName": "gh_97417a04a28d", "Encrypt": "` + exampleEncrypt + `"}`)
	push, err := codec.Decode(q, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := push.Message
	fmt.Println(push.Format, push.Mode)
	fmt.Println(m.MsgType, m.Event, m.FromUserName, m.CreateTime)
	for _, f := range m.Extra {
		fmt.Printf("%s=%s\n", f.Name, f.Value)
	}
	// Output:
	// json safe
	// event debug_demo o9AgO5Kd5ggOC-bXrbNODIiE3bGY 1714112445
	// debug_str="hello world"
}

func ExampleEncodeReply() {
	m := wxcodec.Message{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", MsgType: "text", Content: "人工客服"}
	r := wxcodec.TransferReply(m, time.Unix(1399197672, 0))
	fmt.Println(string(wxcodec.EncodeReply(wxcodec.FormatXML, r)))
	fmt.Println(string(wxcodec.EncodeReply(wxcodec.FormatJSON, r)))
	// Output:
	// <xml><ToUserName><![CDATA[o9AgO5Kd5ggOC-bXrbNODIiE3bGY]]></ToUserName><FromUserName><![CDATA[gh_97417a04a28d]]></FromUserName><CreateTime>1399197672</CreateTime><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>
	// {"ToUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","FromUserName":"gh_97417a04a28d","CreateTime":1399197672,"MsgType":"transfer_customer_service"}
}

func ExampleParseMessage() {
	m, err := wxcodec.ParseMessage([]byte(`<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>1482048670</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[this is a test]]></Content><MsgId>6054768590064713728</MsgId></xml>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s %q %s\n", m.FromUserName, m.MsgType, m.Content, m.MsgID)
	// Output:
	// fromUser text "this is a test" 6054768590064713728
}

// A simulator or a test builds a signed push as WeChat sends it; the
// codec of the same app decodes it.
func ExampleCodec_EncodePush() {
	codec, err := wxcodec.New(exampleAppID, exampleToken, exampleKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := wxcodec.Message{ToUserName: "gh_97417a04a28d", FromUserName: "oUser", CreateTime: 1714112445,
		MsgType: "text", Content: "hello", MsgID: "7000000001"}
	q, body, err := codec.EncodePush(rand.Reader, wxcodec.FormatXML, wxcodec.ModeSafe, m, "1714112445", "415670741")
	if err != nil {
		fmt.Println(err)
		return
	}
	push, err := codec.Decode(q, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q.EncryptType, push.Format, push.Mode)
	fmt.Println(push.Message.FromUserName, push.Message.MsgType, push.Message.Content)
	// Output:
	// aes xml safe
	// oUser text hello
}

// During a key rotation the codec keeps accepting pushes made with the
// previous token and key, and says which it needed.
func ExampleWithPrevious() {
	const oldToken, oldKey = "oldtoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	old, err := wxcodec.New(exampleAppID, oldToken, oldKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := wxcodec.Message{ToUserName: "gh_97417a04a28d", FromUserName: "oUser", CreateTime: 1714112445, MsgType: "text", Content: "hi"}
	q, body, err := old.EncodePush(rand.Reader, wxcodec.FormatJSON, wxcodec.ModeSafe, m, "1714112445", "1")
	if err != nil {
		fmt.Println(err)
		return
	}
	codec, err := wxcodec.New(exampleAppID, exampleToken, exampleKey, wxcodec.WithPrevious(oldToken, oldKey))
	if err != nil {
		fmt.Println(err)
		return
	}
	push, err := codec.Decode(q, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(push.Message.Content, push.Previous == wxcodec.PreviousToken|wxcodec.PreviousKey)
	// Output:
	// hi true
}

func ExampleSniff() {
	for _, body := range []string{`<xml><MsgType>text</MsgType></xml>`, ` {"MsgType":"text"}`, `hello`} {
		f, err := wxcodec.Sniff([]byte(body))
		if err != nil {
			fmt.Println("error:", errors.Is(err, wxcodec.ErrFormat))
			continue
		}
		fmt.Println(f)
	}
	// Output:
	// xml
	// json
	// error: true
}

func ExampleCheckTimestamp() {
	now := time.Unix(1714112445, 0)
	fmt.Println(wxcodec.CheckTimestamp("1714112400", now, 5*time.Minute))
	err := wxcodec.CheckTimestamp("1714100000", now, 5*time.Minute)
	fmt.Println(errors.Is(err, wxcodec.ErrTimestamp))
	// Output:
	// <nil>
	// true
}

// EncodeMessage writes a message as WeChat does (MsgId a JSON number).
func ExampleEncodeMessage() {
	m := wxcodec.Message{ToUserName: "gh_97417a04a28d", FromUserName: "oUser", CreateTime: 1714112445,
		MsgType: "text", Content: "hello", MsgID: "7000000001"}
	b, err := wxcodec.EncodeMessage(wxcodec.FormatJSON, m)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	// Output:
	// {"ToUserName":"gh_97417a04a28d","FromUserName":"oUser","CreateTime":1714112445,"MsgType":"text","Content":"hello","MsgId":7000000001}
}
