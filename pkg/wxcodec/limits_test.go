package wxcodec

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestStructureLimits checks each limit at its boundary, in XML and JSON,
// for ParseMessage and ParseEnvelope: a document at the limit is read, one
// node (attribute, level) more is rejected with ErrLimit.
func TestStructureLimits(t *testing.T) {
	const head = 3 // MsgType, FromUserName, CreateTime
	xmlDoc := func(inner string) string {
		return `<xml><MsgType>text</MsgType><FromUserName>oU</FromUserName><CreateTime>1</CreateTime>` + inner + `</xml>`
	}
	jsonDoc := func(inner string) string {
		return `{"MsgType":"text","FromUserName":"oU","CreateTime":1` + inner + `}`
	}
	xmlElems := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("<E" + strconv.Itoa(i) + "/>")
		}
		return b.String()
	}
	xmlAttrs := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(" a" + strconv.Itoa(i) + `="v"`)
		}
		return b.String()
	}
	jsonMembers := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(`,"k` + strconv.Itoa(i) + `":1`)
		}
		return b.String()
	}
	jsonArray := func(n int) string {
		return strings.TrimSuffix(strings.Repeat("0,", n), ",")
	}
	for _, tt := range []struct {
		name string
		doc  string
		over bool
	}{
		{"xml elements", xmlDoc(xmlElems(MaxNodes - head)), false},
		{"xml elements", xmlDoc(xmlElems(MaxNodes - head + 1)), true},
		{"xml nested elements", xmlDoc("<A>" + xmlElems(MaxNodes-head-1) + "</A>"), false},
		{"xml nested elements", xmlDoc("<A>" + xmlElems(MaxNodes-head) + "</A>"), true},
		{"xml attributes count as nodes", xmlDoc("<A" + xmlAttrs(MaxAttributes) + "/>" + xmlElems(MaxNodes-head-1-MaxAttributes)), false},
		{"xml attributes count as nodes", xmlDoc("<A" + xmlAttrs(MaxAttributes) + "/>" + xmlElems(MaxNodes-head-MaxAttributes)), true},
		{"xml root attributes count as nodes", strings.Replace(xmlDoc(xmlElems(MaxNodes-head-2)), "<xml>", `<xml a="1" b="2">`, 1), false},
		{"xml root attributes count as nodes", strings.Replace(xmlDoc(xmlElems(MaxNodes-head-1)), "<xml>", `<xml a="1" b="2">`, 1), true},
		{"xml attributes of one element", xmlDoc("<A" + xmlAttrs(MaxAttributes) + "/>"), false},
		{"xml attributes of one element", xmlDoc("<A" + xmlAttrs(MaxAttributes+1) + "/>"), true},
		{"xml depth", xmlDoc(strings.Repeat("<a>", MaxDepth-1) + strings.Repeat("</a>", MaxDepth-1)), false},
		{"xml depth", xmlDoc(strings.Repeat("<a>", MaxDepth) + strings.Repeat("</a>", MaxDepth)), true},
		{"json members", jsonDoc(jsonMembers(MaxNodes - head)), false},
		{"json members", jsonDoc(jsonMembers(MaxNodes - head + 1)), true},
		{"json array elements", jsonDoc(`,"A":[` + jsonArray(MaxNodes-head-1) + `]`), false},
		{"json array elements", jsonDoc(`,"A":[` + jsonArray(MaxNodes-head) + `]`), true},
		{"json nested members", jsonDoc(`,"A":{"B":[{` + strings.TrimPrefix(jsonMembers(MaxNodes-head-3), ",") + `}]}`), false},
		{"json nested members", jsonDoc(`,"A":{"B":[{` + strings.TrimPrefix(jsonMembers(MaxNodes-head-2), ",") + `}]}`), true},
		{"json depth", jsonDoc(`,"A":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1)), false},
		{"json depth", jsonDoc(`,"A":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)), true},
	} {
		_, err := ParseMessage([]byte(tt.doc))
		_, envErr := ParseEnvelope([]byte(tt.doc))
		if tt.over {
			if !errors.Is(err, ErrLimit) || !errors.Is(err, ErrSyntax) || !errors.Is(envErr, ErrLimit) {
				t.Errorf("%s, over the limit: ParseMessage = %v, ParseEnvelope = %v, want %v (an %v)", tt.name, err, envErr, ErrLimit, ErrSyntax)
			}
		} else if err != nil || envErr != nil {
			t.Errorf("%s, at the limit: ParseMessage = %v, ParseEnvelope = %v, want no error", tt.name, err, envErr)
		}
	}
}
