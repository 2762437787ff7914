package schemas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/kfbridge/kfbridge/schemas"
)

// The wire contract's example: a text message on the main account.
const textEvent = `{
  "specversion": "1.0",
  "id": "1234567890123456",
  "source": "/wxkf/wx0123456789abcdef/0",
  "type": "weixin.kf.message.text",
  "subject": "oABCDEF-openid_1",
  "time": "2016-12-18T08:11:10Z",
  "datacontenttype": "application/json",
  "appid": "wx0123456789abcdef",
  "businessid": "0",
  "data": {
    "appid": "wx0123456789abcdef",
    "business_id": "0",
    "openid": "oABCDEF-openid_1",
    "to_user_name": "gh_97417a04a28d",
    "create_time": 1482048670,
    "msg_type": "text",
    "msg_id": "1234567890123456",
    "text": {"content": "this is a test"},
    "extra": {"AnyWeChatField": "verbatim", "Nested": {"a": "1", "b": ["x", "y"]}}
  }
}`

const imageEvent = `{
  "specversion": "1.0", "id": "1234567890123457", "source": "/wxkf/wx0123456789abcdef/0",
  "type": "weixin.kf.message.image", "subject": "oABCDEF-openid_1", "time": "2016-12-18T08:11:10Z",
  "datacontenttype": "application/json", "appid": "wx0123456789abcdef", "businessid": "0",
  "data": {
    "appid": "wx0123456789abcdef", "business_id": "0", "openid": "oABCDEF-openid_1",
    "to_user_name": "gh_97417a04a28d", "create_time": 1482048670, "msg_type": "image",
    "msg_id": "1234567890123457",
    "image": {"pic_url": "http://mmbiz.qpic.cn/example/0", "media_id": "MEDIA_ID"}
  }
}`

const miniprogrampageEvent = `{
  "specversion": "1.0", "id": "1234567890123458", "source": "/wxkf/wx0123456789abcdef/0",
  "type": "weixin.kf.message.miniprogrampage", "subject": "oABCDEF-openid_1", "time": "2016-12-18T08:11:10Z",
  "datacontenttype": "application/json", "appid": "wx0123456789abcdef", "businessid": "0",
  "data": {
    "appid": "wx0123456789abcdef", "business_id": "0", "openid": "oABCDEF-openid_1",
    "to_user_name": "gh_97417a04a28d", "create_time": 1482048670, "msg_type": "miniprogrampage",
    "msg_id": "1234567890123458",
    "miniprogrampage": {"title": "Title", "app_id": "wx0123456789abcdef", "page_path": "pages/index/index", "thumb_url": "", "thumb_media_id": ""}
  }
}`

const enterEvent = `{
  "specversion": "1.0", "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "source": "/wxkf/wx0123456789abcdef/0",
  "type": "weixin.kf.event.user_enter_tempsession", "subject": "oABCDEF-openid_1", "time": "2016-12-18T08:11:10Z",
  "datacontenttype": "application/json", "appid": "wx0123456789abcdef", "businessid": "0",
  "data": {
    "appid": "wx0123456789abcdef", "business_id": "0", "openid": "oABCDEF-openid_1",
    "to_user_name": "gh_97417a04a28d", "create_time": 1482048670, "msg_type": "event",
    "event": {"name": "user_enter_tempsession", "session_from": "sessionFrom"}
  }
}`

const debugEvent = `{
  "specversion": "1.0", "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "source": "/wxkf/wx0123456789abcdef/0",
  "type": "weixin.kf.event.debug_demo", "subject": "oABCDEF-openid_1", "time": "2016-12-18T08:11:10Z",
  "datacontenttype": "application/json", "appid": "wx0123456789abcdef", "businessid": "0",
  "data": {
    "appid": "wx0123456789abcdef", "business_id": "0", "openid": "oABCDEF-openid_1",
    "to_user_name": "gh_97417a04a28d", "create_time": 1482048670, "msg_type": "event",
    "event": {"name": "debug_demo"},
    "extra": {"debug_str": "hello world"}
  }
}`

const videoEvent = `{
  "specversion": "1.0", "id": "1234567890123459", "source": "/wxkf/wx0123456789abcdef/0",
  "type": "weixin.kf.message.video", "subject": "oABCDEF-openid_1", "time": "2016-12-18T08:11:10Z",
  "datacontenttype": "application/json", "appid": "wx0123456789abcdef", "businessid": "0",
  "data": {
    "appid": "wx0123456789abcdef", "business_id": "0", "openid": "oABCDEF-openid_1",
    "to_user_name": "gh_97417a04a28d", "create_time": 1482048670, "msg_type": "video",
    "msg_id": "1234567890123459",
    "extra": {"MediaId": "MEDIA_ID", "ThumbMediaId": "THUMB", "Video": {"Duration": "12", "Tags": ["a", "b"], "Size": {"W": 640, "H": null}}}
  }
}`

// op changes a decoded JSON document in place.
type op func(t testing.TB, doc any)

// set sets the value at the JSON Pointer ptr; value is JSON text.
func set(ptr, value string) op {
	return func(t testing.TB, doc any) {
		t.Helper()
		parent, key := walk(t, doc, ptr)
		parent[key] = decode(t, value)
	}
}

// del removes the member at the JSON Pointer ptr.
func del(ptr string) op {
	return func(t testing.TB, doc any) {
		t.Helper()
		parent, key := walk(t, doc, ptr)
		if _, ok := parent[key]; !ok {
			t.Fatalf("del(%q): no such member", ptr)
		}
		delete(parent, key)
	}
}

// walk returns the object holding the member at ptr, and the member's name.
func walk(t testing.TB, doc any, ptr string) (map[string]any, string) {
	t.Helper()
	tokens := strings.Split(ptr, "/")[1:]
	cur := doc
	for _, tok := range tokens[:len(tokens)-1] {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("walk(%q): %q is not in an object", ptr, tok)
		}
		cur = m[tok]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("walk(%q): parent is not an object", ptr)
	}
	return m, tokens[len(tokens)-1]
}

func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// mutate returns base with ops applied.
func mutate(t testing.TB, base string, ops ...op) []byte {
	t.Helper()
	doc := decode(t, base)
	for _, o := range ops {
		o(t, doc)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newValidator(t testing.TB) *schemas.Validator {
	t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatalf("NewValidator() = %v", err)
	}
	return v
}

// validEvents are produced events that must pass.
func validEvents(t testing.TB) []struct {
	name string
	doc  []byte
} {
	// A business (sub-merchant) session: bid 42.
	business := []op{set("/businessid", `"42"`), set("/source", `"/wxkf/wx0123456789abcdef/42"`), set("/data/business_id", `"42"`)}
	return []struct {
		name string
		doc  []byte
	}{
		{"text", []byte(textEvent)},
		{"text business 42", mutate(t, textEvent, business...)},
		{"text with traceparent", mutate(t, textEvent, set("/traceparent", `"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`))},
		{"text without extra", mutate(t, textEvent, del("/data/extra"))},
		{"text empty content", mutate(t, textEvent, set("/data/text/content", `""`))},
		{"text without CreateTime", mutate(t, textEvent, del("/time"), set("/data/create_time", `0`))},
		{"text without MsgId", mutate(t, textEvent, del("/data/msg_id"), set("/id", `"00112233445566778899aabbccddeeff"`))},
		{"text without FromUserName", mutate(t, textEvent, set("/subject", `"_"`), set("/data/openid", `""`))},
		{"text empty to_user_name", mutate(t, textEvent, set("/data/to_user_name", `""`))},
		{"image", []byte(imageEvent)},
		{"image business 42", mutate(t, imageEvent, business...)},
		{"miniprogrampage", []byte(miniprogrampageEvent)},
		{"event user_enter_tempsession", []byte(enterEvent)},
		{"event user_enter_tempsession business 42", mutate(t, enterEvent, business...)},
		{"event without session_from", mutate(t, enterEvent, del("/data/event/session_from"))},
		{"event debug_demo with extra", []byte(debugEvent)},
		{"event without CreateTime", mutate(t, debugEvent, del("/time"), set("/data/create_time", `0`))},
		{"video with nested extra", []byte(videoEvent)},
		{"video business 42 without time", mutate(t, videoEvent, append(business, del("/time"), set("/data/create_time", `0`))...)},
	}
}

func TestValidateValid(t *testing.T) {
	v := newValidator(t)
	for _, tt := range validEvents(t) {
		t.Run(tt.name, func(t *testing.T) {
			if err := v.Validate(schemas.InboundEvent, tt.doc); err != nil {
				t.Errorf("Validate(%s) = %v, want nil", tt.doc, err)
			}
			var ev struct{ Data json.RawMessage }
			if err := json.Unmarshal(tt.doc, &ev); err != nil {
				t.Fatal(err)
			}
			if err := v.Validate(schemas.InboundData, ev.Data); err != nil {
				t.Errorf("Validate(%s, %s) = %v, want nil", schemas.InboundData, ev.Data, err)
			}
		})
	}
}

func TestValidateInvalid(t *testing.T) {
	type test struct {
		name   string
		doc    []byte
		wantAt string // a violation must be reported at this JSON Pointer
	}
	var tests []test

	// Every required member removed.
	for _, m := range []string{"specversion", "id", "source", "type", "subject", "datacontenttype", "appid", "businessid", "data", "time"} {
		tests = append(tests, test{"missing " + m, mutate(t, textEvent, del("/"+m)), ""})
	}
	for _, m := range []string{"appid", "business_id", "openid", "to_user_name", "create_time", "msg_type", "text"} {
		tests = append(tests, test{"missing data." + m, mutate(t, textEvent, del("/data/"+m)), "/data"})
	}
	tests = append(tests, test{"traceparent not W3C", mutate(t, textEvent, set("/traceparent", `"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"`)), "/traceparent"})
	for _, k := range []struct {
		base, kind string
		members    []string
	}{
		{textEvent, "text", []string{"content"}},
		{imageEvent, "image", []string{"pic_url", "media_id"}},
		{miniprogrampageEvent, "miniprogrampage", []string{"title", "app_id", "page_path", "thumb_url", "thumb_media_id"}},
		{enterEvent, "event", []string{"name"}},
	} {
		for _, m := range k.members {
			p := "/data/" + k.kind
			tests = append(tests, test{"missing " + k.kind + "." + m, mutate(t, k.base, del(p+"/"+m)), p})
		}
		tests = append(tests, test{"missing data." + k.kind, mutate(t, k.base, del("/data/"+k.kind)), "/data"})
	}

	// An unknown member at each level.
	for _, tt := range []struct{ base, at string }{
		{textEvent, ""},
		{textEvent, "/data"},
		{textEvent, "/data/text"},
		{imageEvent, "/data/image"},
		{miniprogrampageEvent, "/data/miniprogrampage"},
		{enterEvent, "/data/event"},
	} {
		tests = append(tests, test{"unknown member in " + tt.at, mutate(t, tt.base, set(tt.at+"/unknown", `"x"`)), tt.at})
	}

	tests = append(tests, []test{
		{"CloudEvents attribute not in the contract", mutate(t, textEvent, set("/dataschema", `"https://example.com"`)), ""},

		// Wrong types and values.
		{"create_time string", mutate(t, textEvent, set("/data/create_time", `"1482048670"`)), "/data/create_time"},
		{"create_time negative", mutate(t, textEvent, set("/data/create_time", `-1`)), "/data/create_time"},
		{"create_time after year 9999", mutate(t, textEvent, set("/data/create_time", `253402300800`)), "/data/create_time"},
		{"create_time fraction", mutate(t, textEvent, set("/data/create_time", `1482048670.5`)), "/data/create_time"},
		{"msg_id number", mutate(t, textEvent, set("/data/msg_id", `1234567890123456`)), "/data/msg_id"},
		{"msg_id empty", mutate(t, textEvent, set("/data/msg_id", `""`)), "/data/msg_id"},
		{"business_id number", mutate(t, textEvent, set("/data/business_id", `0`)), "/data/business_id"},
		{"businessid number", mutate(t, textEvent, set("/businessid", `0`)), "/businessid"},
		{"id empty", mutate(t, textEvent, set("/id", `""`)), "/id"},
		{"id number", mutate(t, textEvent, set("/id", `1234567890123456`)), "/id"},
		{"text content number", mutate(t, textEvent, set("/data/text/content", `1`)), "/data/text/content"},
		{"msg_type empty", mutate(t, textEvent, set("/data/msg_type", `""`)), "/data/msg_type"},
		{"extra empty", mutate(t, textEvent, set("/data/extra", `{}`)), "/data/extra"},
		{"extra string", mutate(t, textEvent, set("/data/extra", `"x"`)), "/data/extra"},
		{"event name empty", mutate(t, enterEvent, set("/data/event/name", `""`)), "/data/event/name"},
		{"session_from number", mutate(t, enterEvent, set("/data/event/session_from", `1`)), "/data/event/session_from"},
		{"specversion 0.3", mutate(t, textEvent, set("/specversion", `"0.3"`)), "/specversion"},
		{"datacontenttype xml", mutate(t, textEvent, set("/datacontenttype", `"text/xml"`)), "/datacontenttype"},
		{"data array", mutate(t, textEvent, set("/data", `[]`)), "/data"},

		// Bad tokens.
		{"source with dot", mutate(t, textEvent, set("/source", `"/wxkf/wx0123.456789abcdef/0"`)), "/source"},
		{"source without bid", mutate(t, textEvent, set("/source", `"/wxkf/wx0123456789abcdef"`)), "/source"},
		{"source prefix", mutate(t, textEvent, set("/source", `"wxkf/wx0123456789abcdef/0"`)), "/source"},
		{"subject with space", mutate(t, textEvent, set("/subject", `"oABC DEF"`)), "/subject"},
		{"subject wildcard", mutate(t, textEvent, set("/subject", `"*"`)), "/subject"},
		{"type with dot in kind", mutate(t, textEvent, set("/type", `"weixin.kf.message.te.xt"`)), "/type"},
		{"type other prefix", mutate(t, textEvent, set("/type", `"weixin.kf.msg.text"`)), "/type"},
		{"appid with >", mutate(t, textEvent, set("/appid", `"wx>"`)), "/appid"},
		{"data.appid with dot", mutate(t, textEvent, set("/data/appid", `"wx.1"`)), "/data/appid"},
		{"data.openid with dot", mutate(t, textEvent, set("/data/openid", `"o.1"`)), "/data/openid"},
		{"event name with dot", mutate(t, enterEvent, set("/data/event/name", `"a.b"`)), "/data/event/name"},

		// Envelope and data disagree.
		{"type image for text", mutate(t, textEvent, set("/type", `"weixin.kf.message.image"`)), "/type"},
		{"type message for event", mutate(t, enterEvent, set("/type", `"weixin.kf.message.event"`)), "/type"},
		{"type event for message", mutate(t, textEvent, set("/type", `"weixin.kf.event.text"`)), "/type"},
		{"type other event name", mutate(t, debugEvent, set("/type", `"weixin.kf.event.user_enter_tempsession"`)), "/type"},
		{"type other unknown kind", mutate(t, videoEvent, set("/type", `"weixin.kf.message.voice"`)), "/type"},
		{"source other appid", mutate(t, textEvent, set("/source", `"/wxkf/wx1111111111111111/0"`)), "/source"},
		{"source other bid", mutate(t, textEvent, set("/source", `"/wxkf/wx0123456789abcdef/42"`)), "/source"},
		{"appid other", mutate(t, textEvent, set("/appid", `"wx1111111111111111"`)), "/appid"},
		{"businessid other", mutate(t, textEvent, set("/businessid", `"42"`)), "/businessid"},
		{"subject other", mutate(t, textEvent, set("/subject", `"oOTHER"`)), "/subject"},
		{"subject not _ without openid", mutate(t, textEvent, set("/data/openid", `""`)), "/subject"},
		{"id not msg_id", mutate(t, textEvent, set("/id", `"1"`)), "/id"},
		{"event id not a hash", mutate(t, enterEvent, set("/id", `"1234567890123456"`)), "/id"},
		{"event id upper-case hash", mutate(t, enterEvent, set("/id", `"0F1E2D3C4B5A69788796A5B4C3D2E1F0"`)), "/id"},
		{"time not create_time", mutate(t, textEvent, set("/time", `"2016-12-18T08:11:11Z"`)), "/time"},
		{"time with create_time 0", mutate(t, textEvent, set("/data/create_time", `0`)), "/time"},

		// Kind objects.
		{"image object on text", mutate(t, textEvent, set("/data/image", `{"pic_url": "", "media_id": ""}`)), "/data/image"},
		{"text object on image", mutate(t, imageEvent, set("/data/text", `{"content": ""}`)), "/data/text"},
		{"text and event objects", mutate(t, textEvent, set("/data/event", `{"name": "debug_demo"}`)), "/data/event"},
		{"text object on video", mutate(t, videoEvent, set("/data/text", `{"content": ""}`)), "/data/text"},
		{"miniprogrampage object on event", mutate(t, enterEvent, set("/data/miniprogrampage", `{"title": "", "app_id": "", "page_path": "", "thumb_url": "", "thumb_media_id": ""}`)), "/data/miniprogrampage"},
		{"msg_id on event", mutate(t, enterEvent, set("/data/msg_id", `"0f1e2d3c4b5a69788796a5b4c3d2e1f0"`)), "/data/msg_id"},

		// Bad time.
		{"time without T", mutate(t, textEvent, set("/time", `"2016-12-18 08:11:10Z"`)), "/time"},
		{"time not UTC", mutate(t, textEvent, set("/time", `"2016-12-18T16:11:10+08:00"`)), "/time"},
		{"time month 13", mutate(t, textEvent, set("/time", `"2016-13-18T08:11:10Z"`)), "/time"},
		{"time unix seconds", mutate(t, textEvent, set("/time", `1482048670`)), "/time"},

		// Not JSON.
		{"truncated", []byte(textEvent[:40]), ""},
		{"trailing data", []byte(textEvent + "{}"), ""},
		{"empty", nil, ""},
	}...)

	v := newValidator(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Validate(schemas.InboundEvent, tt.doc)
			if !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("Validate(%s) = %v, want %v", tt.doc, err, schemas.ErrInvalid)
			}
			var verr *schemas.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate(%s) = %T, want *ValidationError", tt.doc, err)
			}
			if verr.Schema != schemas.InboundEvent {
				t.Errorf("Schema = %q, want %q", verr.Schema, schemas.InboundEvent)
			}
			if !slices.ContainsFunc(verr.Violations, func(v schemas.Violation) bool { return v.Location == tt.wantAt }) {
				t.Errorf("Validate(%s) = %v, want a violation at %q", tt.doc, err, tt.wantAt)
			}
		})
	}
}

// TestValidateListsEveryViolation checks that independent violations are all
// reported, in order of location.
func TestValidateListsEveryViolation(t *testing.T) {
	v := newValidator(t)
	doc := mutate(t, textEvent,
		set("/unknown", `1`),
		set("/data/create_time", `"x"`),
		del("/data/text/content"),
		set("/subject", `"a.b"`),
	)
	err := v.Validate(schemas.InboundEvent, doc)
	var verr *schemas.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate(%s) = %v, want *ValidationError", doc, err)
	}
	var got []string
	for _, vi := range verr.Violations {
		got = append(got, vi.Location)
	}
	got = slices.Compact(got)
	want := []string{"", "/data/create_time", "/data/text", "/subject"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violation locations (-want +got):\n%s\nerror: %v", diff, err)
	}
	if !strings.HasPrefix(err.Error(), "schemas: document does not match "+schemas.InboundEvent+": ") {
		t.Errorf("Error() = %q, want the schema name", err)
	}
}

func TestValidateUnknownSchema(t *testing.T) {
	v := newValidator(t)
	for _, name := range []string{"", "asyncapi.yaml", "in/nope.schema.json", "https://kfbridge.dev/schemas/in/event.schema.json"} {
		t.Run(name, func(t *testing.T) {
			if err := v.Validate(name, []byte(textEvent)); !errors.Is(err, schemas.ErrUnknownSchema) {
				t.Errorf("Validate(%q) = %v, want %v", name, err, schemas.ErrUnknownSchema)
			}
		})
	}
}

func TestValidateConcurrent(t *testing.T) {
	v := newValidator(t)
	events := validEvents(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for _, ev := range events {
				if err := v.Validate(schemas.InboundEvent, ev.doc); err != nil {
					t.Errorf("goroutine %d: Validate(%s) = %v", i, ev.name, err)
				}
				bad := bytes.Replace(ev.doc, []byte(`"1.0"`), []byte(`"2.0"`), 1)
				if err := v.Validate(schemas.InboundEvent, bad); !errors.Is(err, schemas.ErrInvalid) {
					t.Errorf("goroutine %d: Validate(%s with specversion 2.0) = %v, want %v", i, ev.name, err, schemas.ErrInvalid)
				}
			}
		})
	}
	wg.Wait()
}

// TestSchemaFiles checks every embedded JSON Schema's header, and that its
// own examples are valid.
func TestSchemaFiles(t *testing.T) {
	v := newValidator(t)
	names, err := fs.Glob(schemas.FS(), "*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{schemas.InboundData, schemas.InboundEvent, schemas.CommandEvent, schemas.SendCommandData, schemas.TypingCommandData, schemas.ResultEvent,
		schemas.TransferredEvent, schemas.DecideAnswer}
	want = append(want, apiSchemas...)
	slices.Sort(want)
	if !cmp.Equal(names, want) {
		t.Fatalf("embedded schemas = %q, want %q", names, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			b, err := fs.ReadFile(schemas.FS(), name)
			if err != nil {
				t.Fatal(err)
			}
			var s struct {
				Schema   string            `json:"$schema"`
				ID       string            `json:"$id"`
				Title    string            `json:"title"`
				Examples []json.RawMessage `json:"examples"`
			}
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			if want := "https://json-schema.org/draft/2020-12/schema"; s.Schema != want {
				t.Errorf("$schema = %q, want %q", s.Schema, want)
			}
			if want := "https://kfbridge.dev/schemas/" + schemas.ContractVersion + "/" + name; s.ID != want {
				t.Errorf("$id = %q, want %q", s.ID, want)
			}
			if s.Title == "" {
				t.Error("no title")
			}
			if len(s.Examples) == 0 {
				t.Error("no examples")
			}
			for i, ex := range s.Examples {
				if err := v.Validate(name, ex); err != nil {
					t.Errorf("examples[%d]: %v", i, err)
				}
			}
		})
	}
}

// TestAsyncAPI checks that asyncapi.yaml parses, that each of its $refs
// points at something that exists, that the channel parameters are the
// address's, and that its message examples are valid.
func TestAsyncAPI(t *testing.T) {
	b, err := fs.ReadFile(schemas.FS(), "asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse asyncapi.yaml: %v", err)
	}
	if got := doc["asyncapi"]; got != "3.0.0" {
		t.Errorf("asyncapi = %v, want 3.0.0", got)
	}

	refs := collectRefs(doc, nil)
	if len(refs) == 0 {
		t.Fatal("no $ref found")
	}
	for _, ref := range refs {
		file, frag, _ := strings.Cut(ref, "#")
		target := any(doc)
		if file != "" {
			name := path.Clean(file)
			b, err := fs.ReadFile(schemas.FS(), name)
			if err != nil {
				t.Errorf("$ref %q: %v", ref, err)
				continue
			}
			if err := json.Unmarshal(b, &target); err != nil {
				t.Errorf("$ref %q: %v", ref, err)
				continue
			}
		}
		if _, ok := resolve(target, frag); !ok {
			t.Errorf("$ref %q: fragment not found", ref)
		}
	}

	addresses := map[string]string{
		"inbound":       "wxkf.in.{appid}.{bid}.{openid}.{kind}",
		"outbound":      "wxkf.out.{appid}.{bid}.{openid}.{verb}",
		"results":       "wxkf.result.{appid}.{bid}.{openid}.{outcome}",
		"deadLetters":   "wxkf.dlq.{appid}.{bid}.{openid}.{verb}",
		"decide":        "wxkf.decide.{appid}.{bid}.{openid}",
		"decideReplies": "",
	}
	maps.Copy(addresses, apiChannels)
	channels, _ := doc["channels"].(map[string]any)
	if len(channels) != len(addresses) {
		t.Errorf("%d channels, want %d", len(channels), len(addresses))
	}
	for name, want := range addresses {
		ch, _ := channels[name].(map[string]any)
		address, _ := ch["address"].(string)
		if address != want {
			t.Errorf("channel %s: address = %q, want %q", name, address, want)
		}
		var placeholders []string
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(address, -1) {
			placeholders = append(placeholders, m[1])
		}
		params, _ := ch["parameters"].(map[string]any)
		var names []string
		for name := range params {
			names = append(names, name)
		}
		slices.Sort(placeholders)
		slices.Sort(names)
		if diff := cmp.Diff(placeholders, names); diff != "" {
			t.Errorf("channel %s parameters (-address +parameters):\n%s", name, diff)
		}
	}

	actions := map[string]string{
		"receiveInbound":    "receive",
		"sendCommand":       "send",
		"receiveResult":     "receive",
		"receiveDeadLetter": "receive",
		"answerDecision":    "receive",
	}
	maps.Copy(actions, apiOperations)
	operations, _ := doc["operations"].(map[string]any)
	if len(operations) != len(actions) {
		t.Errorf("%d operations, want %d", len(operations), len(actions))
	}
	for name, want := range actions {
		o, _ := operations[name].(map[string]any)
		if got := o["action"]; got != want {
			t.Errorf("operation %s: action = %v, want %s", name, got, want)
		}
	}

	v := newValidator(t)
	messages, _ := resolve(doc, "/components/messages")
	for name, m := range messages.(map[string]any) {
		m, _ := m.(map[string]any)
		required := requiredHeaders(t, doc, m["headers"])
		examples, _ := m["examples"].([]any)
		if len(examples) == 0 {
			t.Errorf("message %s has no examples", name)
		}
		for i, ex := range examples {
			ex, _ := ex.(map[string]any)
			headers, _ := ex["headers"].(map[string]any)
			for _, h := range required {
				if _, ok := headers[h]; !ok {
					t.Errorf("%s examples[%d]: no %s header", name, i, h)
				}
			}
			payload, err := json.Marshal(ex["payload"])
			if err != nil {
				t.Fatal(err)
			}
			schema := exampleSchema(name, ex["payload"])
			if api, ok := apiPayloadSchema(m); ok {
				schema = api
			}
			if err := v.Validate(schema, payload); err != nil {
				t.Errorf("%s examples[%d]: %v", name, i, err)
			}
		}
	}
}

// requiredHeaders returns the required headers of a message's headers
// schema h, which may be a $ref into doc.
func requiredHeaders(t testing.TB, doc, h any) []string {
	t.Helper()
	m, _ := h.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		target, ok := resolve(doc, strings.TrimPrefix(ref, "#"))
		if !ok {
			t.Fatalf("headers $ref %q not found", ref)
		}
		m, _ = target.(map[string]any)
	}
	var names []string
	list, _ := m["required"].([]any)
	for _, n := range list {
		names = append(names, n.(string))
	}
	return names
}

// exampleSchema returns the schema an example payload of the AsyncAPI
// message name must match.
func exampleSchema(name string, payload any) string {
	p, _ := payload.(map[string]any)
	_, structured := p["specversion"]
	_, typing := p["command"]
	switch {
	case name == "inboundEvent" || name == "decideRequest":
		return schemas.InboundEvent
	case name == "conversationTransferred":
		return schemas.TransferredEvent
	case name == "decideAnswer":
		return schemas.DecideAnswer
	case name == "resultEvent":
		return schemas.ResultEvent
	case structured:
		return schemas.CommandEvent
	case name == "typingCommand" || typing:
		return schemas.TypingCommandData
	default:
		return schemas.SendCommandData
	}
}

// collectRefs returns every "$ref" value in the decoded YAML v.
func collectRefs(v any, refs []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" {
				refs = append(refs, s)
			} else {
				refs = collectRefs(e, refs)
			}
		}
	case []any:
		for _, e := range v {
			refs = collectRefs(e, refs)
		}
	}
	return refs
}

// resolve returns the value at the JSON Pointer ptr in v.
func resolve(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	for tok := range strings.SplitSeq(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := v.(type) {
		case map[string]any:
			e, ok := c[tok]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}
