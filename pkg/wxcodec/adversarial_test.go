package wxcodec

import (
	"bytes"
	"strconv"
	"strings"
)

// adversarialCase builds a body of about n bytes that stresses one part of
// the parsers. The bodies are valid up to the stressed part, so the parsers
// get that far; whether they end up accepted does not matter.
type adversarialCase struct {
	name string
	gen  func(n int) []byte
}

// Common message fields, so that plaintext bodies reach the field loop.
const (
	advXMLHead  = `<xml><ToUserName>gh_1</ToUserName><FromUserName>oU</FromUserName><CreateTime>1714112445</CreateTime><MsgType>text</MsgType><Content>hi</Content>`
	advJSONHead = `{"ToUserName":"gh_1","FromUserName":"oU","CreateTime":1714112445,"MsgType":"text","Content":"hi"`
)

// repeatTo appends unit(i) for i = 0, 1, ... until b holds about n bytes.
func repeatTo(b []byte, n int, unit func(b []byte, i int) []byte) []byte {
	for i := 0; len(b) < n; i++ {
		b = unit(b, i)
	}
	return b
}

// adversarialXML returns the XML cases; head is the start of the document
// (up to and including the root's start tag and any fields before the
// payload) and the result ends with "</xml>".
func adversarialXML(head string) []adversarialCase {
	wrap := func(gen func(b []byte, n int) []byte) func(int) []byte {
		return func(n int) []byte {
			b := append([]byte(nil), head...)
			b = gen(b, n-len(head)-6)
			return append(b, "</xml>"...)
		}
	}
	unit := func(s string) func(b []byte, n int) []byte {
		return func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, _ int) []byte { return append(b, s...) })
		}
	}
	return []adversarialCase{
		{"xml-attrs", wrap(func(b []byte, n int) []byte {
			end := len(b) + n
			b = append(b, "<X"...)
			b = repeatTo(b, end-4, func(b []byte, i int) []byte {
				b = append(b, " a"...)
				b = strconv.AppendInt(b, int64(i), 36)
				return append(b, `=""`...)
			})
			return append(b, "/>"...)
		})},
		{"xml-attrs-same-prefix", wrap(func(b []byte, n int) []byte {
			end := len(b) + n
			b = append(b, "<X"...)
			b = repeatTo(b, end-4, func(b []byte, i int) []byte {
				b = append(b, " aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"...)
				b = strconv.AppendInt(b, int64(i), 36)
				return append(b, `="&amp;"`...)
			})
			return append(b, "/>"...)
		})},
		{"xml-siblings-same", wrap(unit("<E>x</E>"))},
		{"xml-siblings-distinct", wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, i int) []byte {
				name := "E" + strconv.FormatInt(int64(i), 36)
				return append(b, "<"+name+">x</"+name+">"...)
			})
		})},
		{"xml-children", wrap(func(b []byte, n int) []byte {
			end := len(b) + n
			b = append(b, "<E>"...)
			b = repeatTo(b, end-4, func(b []byte, i int) []byte {
				name := "k" + strconv.FormatInt(int64(i%64), 36)
				return append(b, "<"+name+">1</"+name+">"...)
			})
			return append(b, "</E>"...)
		})},
		{"xml-deep", wrap(unit("<E>" + strings.Repeat("<a>", 30) + "x" + strings.Repeat("</a>", 30) + "</E>"))},
		{"xml-deep-unclosed", wrap(unit("<a>"))},
		{"xml-long-name", wrap(func(b []byte, n int) []byte {
			name := strings.Repeat("n", n/2-3)
			return append(b, "<"+name+">"+"</"+name+">"...)
		})},
		{"xml-long-text", wrap(func(b []byte, n int) []byte {
			b = append(b, "<E>"...)
			b = repeatTo(b, len(b)+n-8, func(b []byte, _ int) []byte { return append(b, "&amp;x&#x4e2d;\r\n"...) })
			return append(b, "</E>"...)
		})},
		{"xml-cdata-segments", wrap(func(b []byte, n int) []byte {
			b = append(b, "<E>"...)
			b = repeatTo(b, len(b)+n-8, func(b []byte, _ int) []byte { return append(b, "<![CDATA[x]]>y"...) })
			return append(b, "</E>"...)
		})},
		{"xml-comments", wrap(unit("<!-- c --><?p x?>"))},
	}
}

// adversarialJSON returns the JSON cases; head is the start of the object
// up to the payload members (each member is preceded by a comma).
func adversarialJSON(head string) []adversarialCase {
	wrap := func(gen func(b []byte, n int) []byte) func(int) []byte {
		return func(n int) []byte {
			b := append([]byte(nil), head...)
			b = gen(b, n-len(head)-1)
			return append(b, '}')
		}
	}
	return []adversarialCase{
		{"json-members", wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, i int) []byte {
				b = append(b, `,"k`...)
				b = strconv.AppendInt(b, int64(i), 36)
				return append(b, `":1`...)
			})
		})},
		{"json-repeated-key", wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, _ int) []byte { return append(b, `,"k":1`...) })
		})},
		{"json-repeated-keys", wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, i int) []byte {
				b = append(b, `,"k`...)
				b = strconv.AppendInt(b, int64(i%64), 36)
				return append(b, `":{"a":1}`...)
			})
		})},
		{"json-wide-array", wrap(func(b []byte, n int) []byte {
			b = append(b, `,"E":[0`...)
			b = repeatTo(b, len(b)+n-2, func(b []byte, _ int) []byte { return append(b, ",1"...) })
			return append(b, ']')
		})},
		{"json-deep", wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, i int) []byte {
				b = append(b, `,"E`...)
				b = strconv.AppendInt(b, int64(i), 36)
				b = append(b, `":`...)
				b = append(b, strings.Repeat(`{"a":`, 30)...)
				b = append(b, '1')
				return append(b, strings.Repeat("}", 30)...)
			})
		})},
		{"json-deep-unclosed", wrap(func(b []byte, n int) []byte {
			b = append(b, `,"E":`...)
			return repeatTo(b, len(b)+n, func(b []byte, _ int) []byte { return append(b, '[') })
		})},
		{"json-long-key", wrap(func(b []byte, n int) []byte {
			return append(b, `,"`+strings.Repeat("k", n-6)+`":1`...)
		})},
		{"json-escapes", wrap(func(b []byte, n int) []byte {
			b = append(b, `,"E":"`...)
			b = repeatTo(b, len(b)+n-8, func(b []byte, _ int) []byte { return append(b, `\u00e9\ud83d\ude00\n`...) })
			return append(b, '"')
		})},
	}
}

// adversarialCases returns every case for the plaintext path (a message)
// and for the envelope path (an envelope with an Encrypt field first).
func adversarialCases() (plain, envelope []adversarialCase) {
	plain = append(adversarialXML(advXMLHead), adversarialJSON(advJSONHead)...)
	enc := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	envelope = append(adversarialXML(`<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[`+enc+`]]></Encrypt>`),
		adversarialJSON(`{"ToUserName":"gh_1","Encrypt":"`+enc+`"`)...)
	envelope = append(envelope, adversarialCase{"long-encrypt", func(n int) []byte {
		return envelopeBody(FormatJSON, "gh_1", string(bytes.Repeat([]byte("A"), n-40)))
	}})
	return plain, envelope
}
