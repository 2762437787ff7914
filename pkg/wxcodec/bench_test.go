package wxcodec

import (
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
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := c.Decode(q, body); err != nil {
					b.Fatal(err)
				}
			}
		})
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
