package wxcodec

import (
	"strconv"
	"strings"
	"testing"
)

func BenchmarkDecode(b *testing.B) {
	v1 := vectorByID(b, "V1")
	c := mustCodec(b, v1.AppID, v1.Token, v1.EncodingAESKey)
	jsonMsg := []byte(`{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"text","Content":"你好，我想咨询一下订单的物流信息","MsgId":6054768590064713728}`)
	m, err := ParseMessage(jsonMsg)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		f    Format
		mode Mode
	}{
		{"safe-json", FormatJSON, ModeSafe},
		{"safe-xml", FormatXML, ModeSafe},
		{"plaintext-json", FormatJSON, ModePlaintext},
		{"plaintext-xml", FormatXML, ModePlaintext},
	}
	for _, bc := range cases {
		q, body, err := c.EncodePush(strings.NewReader(v1.Random), bc.f, bc.mode, m, v1.Timestamp, v1.Nonce)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) { benchDecode(b, c, q, body) })
	}
}

func BenchmarkDecrypt(b *testing.B) {
	v1 := vectorByID(b, "V1")
	k := mustKey(b, v1.EncodingAESKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.Decrypt(v1.Encrypt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMessage(b *testing.B) {
	bodies := []struct{ name, body string }{
		{"json", `{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"text","Content":"你好，我想咨询一下订单的物流信息","MsgId":6054768590064713728}`},
		{"xml", `<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><FromUserName><![CDATA[o9AgO5Kd5ggOC-bXrbNODIiE3bGY]]></FromUserName><CreateTime>1714112445</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好，我想咨询一下订单的物流信息]]></Content><MsgId>6054768590064713728</MsgId></xml>`},
		{"xml-nested", "<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName><CreateTime>1610969440</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent><List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List><List><TemplateId><![CDATA[9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent></xml>"},
	}
	for _, bc := range bodies {
		body := []byte(bc.body)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := ParseMessage(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAdversarial measures the cost per byte of bodies built to
// stress the parsers (see adversarialCases), through Decode as the ingress
// calls it, against the cost per byte of a normal push. The plaintext path
// has a valid signature, so the body is parsed; the envelope path has an
// encrypted query with a wrong msg_signature, so only what Decode does
// before the signature check is measured. The ns/B metric of every case
// must stay within 5x of the normal pushes'. Sub-benchmarks are named
// normal/<mode>-<format> and <size>KiB/<path>/<case>, so that
// -bench 'Adversarial/(normal|1024KiB)' runs the normal pushes and one size.
func BenchmarkAdversarial(b *testing.B) {
	v1 := vectorByID(b, "V1")
	c := mustCodec(b, v1.AppID, v1.Token, v1.EncodingAESKey)
	run := func(b *testing.B, q Query, body []byte) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			_, _ = c.Decode(q, body)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(body)), "ns/B")
	}
	m, err := ParseMessage([]byte(`{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"text","Content":"你好，我想咨询一下订单的物流信息","MsgId":6054768590064713728}`))
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []Format{FormatJSON, FormatXML} {
		for _, mode := range []Mode{ModePlaintext, ModeSafe} {
			q, body, err := c.EncodePush(strings.NewReader(v1.Random), f, mode, m, v1.Timestamp, v1.Nonce)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("normal/"+mode.String()+"-"+f.String(), func(b *testing.B) { run(b, q, body) })
		}
	}
	plainQ := Query{Timestamp: v1.Timestamp, Nonce: v1.Nonce, Signature: Signature(v1.Token, v1.Timestamp, v1.Nonce)}
	encQ := Query{Timestamp: v1.Timestamp, Nonce: v1.Nonce, EncryptType: "aes", MsgSignature: strings.Repeat("0", 40)}
	plain, envelope := adversarialCases()
	for _, size := range []int{64 << 10, 1 << 20} {
		for _, path := range []struct {
			name  string
			q     Query
			cases []adversarialCase
		}{{"plaintext", plainQ, plain}, {"envelope", encQ, envelope}} {
			for _, ac := range path.cases {
				body := ac.gen(size)
				b.Run(strconv.Itoa(size>>10)+"KiB/"+path.name+"/"+ac.name, func(b *testing.B) { run(b, path.q, body) })
			}
		}
	}
}

// benchDecode measures c decoding the push (q, body).
func benchDecode(b *testing.B, c *Codec, q Query, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := c.Decode(q, body); err != nil {
			b.Fatal(err)
		}
	}
}
