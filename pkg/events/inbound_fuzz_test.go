package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
	"github.com/kfbridge/kfbridge/schemas"
)

// FuzzInboundReadBack checks that every push the decoder accepts, and that
// NewInbound turns into an event, is an event its readers can read back: the
// body the publisher stores (Inbound.AppendJSON) is read by ParseInbound and
// by the CloudEvents SDK, matches schemas/in, and its data.extra has no
// repeated key. A push NewInbound refuses must be refused with ErrToken or
// ErrInvalid, which the ingress answers with 400.
func FuzzInboundReadBack(f *testing.F) {
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	files, err := filepath.Glob("../wxcodec/testdata/messages/*.*")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, ".golden") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"MsgType":"text","FromUserName":"oU","CreateTime":253402300799,"X":1,"X":{"a":[1,2]},"\u0058":"3"}`,
		`{"MsgType":"text","FromUserName":"oU","CreateTime":253402300800}`,
		`{"MsgType":"video","FromUserName":"oU","X":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`,
		`<xml><MsgType>event</MsgType><Event>e</Event><FromUserName>oU</FromUserName><A x="1"><B>1</B><B>2</B>t</A><A/></xml>`,
		`{"MsgType":"text","FromUserName":"oU","MsgId":"\u2028\ud800","X":"\udc00"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := wxcodec.ParseMessage(body)
		if err != nil {
			return
		}
		in, err := events.NewInbound("wx0123456789abcdef", &m)
		if err != nil {
			if !errors.Is(err, events.ErrToken) && !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("NewInbound(ParseMessage(%q)) = %v, want ErrToken or ErrInvalid", body, err)
			}
			return
		}
		if len(body)%2 == 1 {
			// Half the events carry the trace attribute (read back and
			// validated below like the others).
			in.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		}
		ev := in.AppendJSON(nil)
		got, err := events.ParseInbound(ev)
		if err != nil {
			t.Fatalf("ParseInbound(%s) = %v (push %q)", ev, err, body)
		}
		if got.ID != in.ID || got.Type != in.Type || !got.Time.Equal(in.Time()) || got.Data.CreateTime != m.CreateTime || got.TraceParent != in.TraceParent {
			t.Fatalf("ParseInbound(%s) = %+v, want id %q, type %q, time %v", ev, got, in.ID, in.Type, in.Time())
		}
		if len(got.Data.Extra) != len(m.Extra) {
			t.Fatalf("ParseInbound(%s) has %d extra fields, the message %d", ev, len(got.Data.Extra), len(m.Extra))
		}
		var sdk cloudevents.Event
		if err := json.Unmarshal(ev, &sdk); err != nil {
			t.Fatalf("SDK unmarshal of %s = %v (push %q)", ev, err, body)
		}
		if err := sdk.Validate(); err != nil {
			t.Fatalf("SDK Validate of %s = %v", ev, err)
		}
		if sdk.ID() != in.ID || !sdk.Time().Equal(in.Time()) {
			t.Fatalf("SDK read %s as id %q, time %v", ev, sdk.ID(), sdk.Time())
		}
		if err := v.Validate(schemas.InboundEvent, ev); err != nil {
			t.Fatalf("schema check of %s = %v (push %q)", ev, err, body)
		}
		if key, dup := repeatedKey(in.AppendData(nil)); dup {
			t.Fatalf("data %s repeats the key %q", in.AppendData(nil), key)
		}
	})
}

// repeatedKey reports the first object key that appears twice in one
// object of the JSON document doc.
func repeatedKey(doc []byte) (string, bool) {
	d := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{object: tok == '{', keys: map[string]bool{}, key: tok == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.object && top.key {
				if top.keys[tok] {
					return tok, true
				}
				top.keys[tok] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.object {
			top.key = true
		}
	}
}
