package wxcodec

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// adversarialCase builds a body of about n bytes that stresses one part of
// the parsers. The bodies are valid up to the stressed part, so the parsers
// get that far. Those with over are over the structure limits (MaxDepth,
// MaxNodes, MaxAttributes) from 64 KiB on and must be rejected with
// ErrLimit; the others stay within them (the max-* cases use as much
// structure as the limits allow and fill the rest with text).
type adversarialCase struct {
	name string
	over bool
	gen  func(n int) []byte
}

// Nodes of the heads below, and the nodes the max-* cases may use after
// them.
const (
	advHeadNodes = 5
	advMaxNodes  = MaxNodes - advHeadNodes
)

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
	// attrs fills about n bytes with one element of distinct attributes,
	// each named prefix plus a base-36 number, with value after the name.
	attrs := func(prefix, value string) func(b []byte, n int) []byte {
		return func(b []byte, n int) []byte {
			end := len(b) + n
			b = append(b, "<X"...)
			b = repeatTo(b, end-4, func(b []byte, i int) []byte {
				b = append(b, prefix...)
				b = strconv.AppendInt(b, int64(i), 36)
				return append(b, value...)
			})
			return append(b, "/>"...)
		}
	}
	return []adversarialCase{
		{"xml-attrs", true, wrap(attrs(" a", `=""`))},
		{"xml-attrs-same-prefix", true, wrap(attrs(" aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", `="&amp;"`))},
		{"xml-siblings-same", true, wrap(unit("<E>x</E>"))},
		{"xml-siblings-distinct", true, wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, i int) []byte {
				name := "E" + strconv.FormatInt(int64(i), 36)
				return append(b, "<"+name+">x</"+name+">"...)
			})
		})},
		{"xml-children", true, wrap(func(b []byte, n int) []byte {
			end := len(b) + n
			b = append(b, "<E>"...)
			b = repeatTo(b, end-4, func(b []byte, i int) []byte {
				name := "k" + strconv.FormatInt(int64(i%64), 36)
				return append(b, "<"+name+">1</"+name+">"...)
			})
			return append(b, "</E>"...)
		})},
		{"xml-deep", true, wrap(unit("<E>" + strings.Repeat("<a>", 30) + "x" + strings.Repeat("</a>", 30) + "</E>"))},
		{"xml-deep-unclosed", true, wrap(unit("<a>"))},
		{"xml-long-name", false, wrap(func(b []byte, n int) []byte {
			name := strings.Repeat("n", n/2-3)
			return append(b, "<"+name+">"+"</"+name+">"...)
		})},
		{"xml-long-text", false, wrap(func(b []byte, n int) []byte {
			b = append(b, "<E>"...)
			b = repeatTo(b, len(b)+n-8, func(b []byte, _ int) []byte { return append(b, "&amp;x&#x4e2d;\r\n"...) })
			return append(b, "</E>"...)
		})},
		{"xml-cdata-segments", false, wrap(func(b []byte, n int) []byte {
			b = append(b, "<E>"...)
			b = repeatTo(b, len(b)+n-8, func(b []byte, _ int) []byte { return append(b, "<![CDATA[x]]>y"...) })
			return append(b, "</E>"...)
		})},
		{"xml-comments", false, wrap(unit("<!-- c --><?p x?>"))},
		{"xml-max-attrs-text", false, wrap(func(b []byte, n int) []byte {
			const elems = advMaxNodes / (1 + MaxAttributes)
			per := n/(elems*MaxAttributes) - 8
			for i := range elems {
				b = append(b, "<X"...)
				b = strconv.AppendInt(b, int64(i), 36)
				for a := range MaxAttributes {
					b = append(b, " a"...)
					b = strconv.AppendInt(b, int64(a), 36)
					b = append(b, `="`...)
					b = appendXMLFiller(b, per)
					b = append(b, '"')
				}
				b = append(b, "/>"...)
			}
			return b
		})},
		{"xml-max-siblings-text", false, wrap(func(b []byte, n int) []byte {
			per := n/advMaxNodes - 7
			for range advMaxNodes {
				b = appendXMLFiller(append(b, "<E>"...), per)
				b = append(b, "</E>"...)
			}
			return b
		})},
		{"xml-max-deep-text", false, wrap(func(b []byte, n int) []byte {
			const levels = MaxDepth - 1 // below the root
			const trees = advMaxNodes / levels
			per := n/(trees*levels) - 7
			for i := range trees {
				name := "E" + strconv.Itoa(i)
				b = append(b, "<"+name+">"...)
				for range levels - 1 {
					b = appendXMLFiller(b, per)
					b = append(b, "<a>"...)
				}
				b = appendXMLFiller(b, per)
				b = append(b, strings.Repeat("</a>", levels-1)...)
				b = append(b, "</"+name+">"...)
			}
			return b
		})},
	}
}

// appendXMLFiller appends about n bytes of XML text that needs decoding.
func appendXMLFiller(b []byte, n int) []byte {
	return repeatTo(b, len(b)+n, func(b []byte, _ int) []byte { return append(b, "&amp;x&#x4e2d;\r\n"...) })
}

// appendJSONFiller appends about n bytes of JSON string content with
// escapes.
func appendJSONFiller(b []byte, n int) []byte {
	return repeatTo(b, len(b)+n, func(b []byte, _ int) []byte { return append(b, `\u00e9\ud83d\ude00\n`...) })
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
		{"json-members", true, wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, i int) []byte {
				b = append(b, `,"k`...)
				b = strconv.AppendInt(b, int64(i), 36)
				return append(b, `":1`...)
			})
		})},
		{"json-repeated-key", true, wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, _ int) []byte { return append(b, `,"k":1`...) })
		})},
		{"json-repeated-keys", true, wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, i int) []byte {
				b = append(b, `,"k`...)
				b = strconv.AppendInt(b, int64(i%64), 36)
				return append(b, `":{"a":1}`...)
			})
		})},
		{"json-wide-array", true, wrap(func(b []byte, n int) []byte {
			b = append(b, `,"E":[0`...)
			b = repeatTo(b, len(b)+n-2, func(b []byte, _ int) []byte { return append(b, ",1"...) })
			return append(b, ']')
		})},
		{"json-deep", true, wrap(func(b []byte, n int) []byte {
			return repeatTo(b, len(b)+n, func(b []byte, i int) []byte {
				b = append(b, `,"E`...)
				b = strconv.AppendInt(b, int64(i), 36)
				b = append(b, `":`...)
				b = append(b, strings.Repeat(`{"a":`, 30)...)
				b = append(b, '1')
				return append(b, strings.Repeat("}", 30)...)
			})
		})},
		{"json-deep-unclosed", true, wrap(func(b []byte, n int) []byte {
			b = append(b, `,"E":`...)
			return repeatTo(b, len(b)+n, func(b []byte, _ int) []byte { return append(b, '[') })
		})},
		{"json-long-key", false, wrap(func(b []byte, n int) []byte {
			return append(b, `,"`+strings.Repeat("k", n-6)+`":1`...)
		})},
		{"json-escapes", false, wrap(func(b []byte, n int) []byte {
			b = append(b, `,"E":"`...)
			b = repeatTo(b, len(b)+n-8, func(b []byte, _ int) []byte { return append(b, `\u00e9\ud83d\ude00\n`...) })
			return append(b, '"')
		})},
		{"json-max-members-text", false, wrap(func(b []byte, n int) []byte {
			per := n/advMaxNodes - 12
			for i := range advMaxNodes {
				b = append(b, `,"k`...)
				b = strconv.AppendInt(b, int64(i), 36)
				b = appendJSONFiller(append(b, `":"`...), per)
				b = append(b, '"')
			}
			return b
		})},
		{"json-max-repeated-text", false, wrap(func(b []byte, n int) []byte {
			per := n/advMaxNodes - 8
			for range advMaxNodes {
				b = appendJSONFiller(append(b, `,"k":"`...), per)
				b = append(b, '"')
			}
			return b
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
	envelope = append(envelope, adversarialCase{"long-encrypt", false, func(n int) []byte {
		return envelopeBody(FormatJSON, "gh_1", string(bytes.Repeat([]byte("A"), n-40)))
	}})
	return plain, envelope
}

// TestAdversarialBounded checks the structure limits on both paths of
// Decode: a body over them is rejected with ErrLimit after a bounded amount
// of work (Decode allocates as often for 1 MiB as for 64 KiB, and a few
// times at most; the parsers used to build the extra fields of every node,
// so allocations grew with the body), and a body within them is parsed
// (accepted on the plaintext path; on the envelope path, whose
// msg_signature is wrong, scanned up to the signature check). Time is
// measured by BenchmarkAdversarial.
func TestAdversarialBounded(t *testing.T) {
	const maxAllocs = 16
	v1 := vectorByID(t, "V1")
	c := mustCodec(t, v1.AppID, v1.Token, v1.EncodingAESKey)
	plainQ := Query{Timestamp: v1.Timestamp, Nonce: v1.Nonce, Signature: Signature(v1.Token, v1.Timestamp, v1.Nonce)}
	encQ := Query{Timestamp: v1.Timestamp, Nonce: v1.Nonce, EncryptType: "aes", MsgSignature: strings.Repeat("0", 40)}
	plain, envelope := adversarialCases()
	for _, path := range []struct {
		name   string
		q      Query
		cases  []adversarialCase
		within error // Decode's error for a body within the limits
	}{{"plaintext", plainQ, plain, nil}, {"envelope", encQ, envelope, ErrSignature}} {
		for _, ac := range path.cases {
			t.Run(path.name+"/"+ac.name, func(t *testing.T) {
				small, large := ac.gen(64<<10), ac.gen(1<<20)
				for _, body := range [][]byte{small, large} {
					_, err := c.Decode(path.q, body)
					switch {
					case ac.over && !errors.Is(err, ErrLimit):
						t.Fatalf("Decode(%d bytes) = %v, want %v", len(body), err, ErrLimit)
					case !ac.over && !errors.Is(err, path.within) && err != path.within:
						t.Fatalf("Decode(%d bytes) = %v, want %v", len(body), err, path.within)
					}
				}
				if !ac.over {
					return
				}
				allocs := func(body []byte) float64 {
					return testing.AllocsPerRun(3, func() { _, _ = c.Decode(path.q, body) })
				}
				if a, b := allocs(small), allocs(large); a > maxAllocs || b > maxAllocs {
					t.Errorf("Decode allocates %v times for 64 KiB, %v for 1 MiB; want at most %d", a, b, maxAllocs)
				}
			})
		}
	}
}
