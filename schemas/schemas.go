package schemas

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Names of the embedded schemas usable with [Validator.Validate]. A name is
// also the schema's path in [FS] and the end of its $id.
const (
	// InboundEvent is the CloudEvent published on wxkf.in.<appid>.<bid>.<openid>.<kind>.
	InboundEvent = "in/event.schema.json"
	// InboundData is the data of an [InboundEvent] on its own.
	InboundData = "in/data.schema.json"

	// CommandEvent is a command from a bot as a structured CloudEvent,
	// published on wxkf.out.<appid>.<bid>.<openid>.send or .typing.
	CommandEvent = "out/command.schema.json"
	// SendCommandData is the data of a send command: the data of a
	// [CommandEvent] of type weixin.kf.command.send, or the bare body.
	SendCommandData = "out/send.schema.json"
	// TypingCommandData is the data of a typing command: the data of a
	// [CommandEvent] of type weixin.kf.command.typing, or the bare body.
	TypingCommandData = "out/typing.schema.json"

	// ResultEvent is the final outcome of a command, published on
	// wxkf.result.<appid>.<bid>.<openid>.delivered or .failed.
	ResultEvent = "result/event.schema.json"
)

// Schemas of the management service (NATS micro, request/reply on
// wxkf.api.<appid>.<op>): for each op the request body and the body of a
// successful reply; [APIErrorReply] is the body of every failed one.
const (
	APIBusinessRegisterRequest = "api/business.register.request.schema.json"
	APIBusinessRegisterReply   = "api/business.register.reply.schema.json"
	APIBusinessUpdateRequest   = "api/business.update.request.schema.json"
	APIBusinessUpdateReply     = "api/business.update.reply.schema.json"
	APIBusinessGetRequest      = "api/business.get.request.schema.json"
	APIBusinessGetReply        = "api/business.get.reply.schema.json"
	APIBusinessListRequest     = "api/business.list.request.schema.json"
	APIBusinessListReply       = "api/business.list.reply.schema.json"
	APIKFListRequest           = "api/kf.list.request.schema.json"
	APIKFListReply             = "api/kf.list.reply.schema.json"
	APIKFOnlineRequest         = "api/kf.online.request.schema.json"
	APIKFOnlineReply           = "api/kf.online.reply.schema.json"
	APIKFAddRequest            = "api/kf.add.request.schema.json"
	APIKFAddReply              = "api/kf.add.reply.schema.json"
	APIKFDelRequest            = "api/kf.del.request.schema.json"
	APIKFDelReply              = "api/kf.del.reply.schema.json"
	APIKFSetAdminRequest       = "api/kf.setadmin.request.schema.json"
	APIKFSetAdminReply         = "api/kf.setadmin.reply.schema.json"
	APIKFCancelAdminRequest    = "api/kf.canceladmin.request.schema.json"
	APIKFCancelAdminReply      = "api/kf.canceladmin.reply.schema.json"
	APIMediaUploadRequest      = "api/media.upload.request.schema.json"
	APIMediaUploadReply        = "api/media.upload.reply.schema.json"
	APIMediaGetRequest         = "api/media.get.request.schema.json"
	APIMediaGetReply           = "api/media.get.reply.schema.json"
	APIBudgetGetRequest        = "api/budget.get.request.schema.json"
	APIBudgetGetReply          = "api/budget.get.reply.schema.json"
	// APIErrorReply is the body of a failed management request (errcode and
	// errmsg), sent with the Nats-Service-Error and Nats-Service-Error-Code
	// headers.
	APIErrorReply = "api/error.reply.schema.json"
)

// ContractVersion is the version of the wire contract the schemas describe.
// It is part of every schema's $id (https://kfbridge.dev/schemas/v1/…); a
// breaking change to the contract is a new version with new $ids.
const ContractVersion = "v1"

// Schemas of handover to human agents.
const (
	// TransferredEvent is the event published on
	// wxkf.in.<appid>.<bid>.<openid>.conversation_transferred when a message
	// was handed to human agents.
	TransferredEvent = "in/transferred.schema.json"
	// DecideAnswer is a bot's answer to a handover decision request on
	// wxkf.decide.<appid>.<bid>.<openid> (whose body is an [InboundEvent]).
	DecideAnswer = "decide/answer.schema.json"
)

// baseURL is what every embedded schema's $id starts with; the rest of the
// $id is the schema's name.
const baseURL = "https://kfbridge.dev/schemas/" + ContractVersion + "/"

//go:embed asyncapi.yaml in/*.json out/*.json result/*.json api/*.json decide/*.json
var files embed.FS

// FS returns the embedded files: asyncapi.yaml and the JSON Schemas under
// in/, out/, result/, api/ and decide/, at the same paths as in the repository's
// schemas/ directory.
func FS() fs.FS {
	return files
}

// Validator validates documents against the embedded schemas. Create it with
// [NewValidator]; it is safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema // by name
	docs    map[string]any                // the schema files as JSON values, by URL
}

// NewValidator compiles every embedded JSON Schema (draft 2020-12, with
// format assertions such as date-time turned on; date-time is RFC 3339 read
// strictly, two ASCII digits for each field, as events.ParseCommand reads
// it). References are resolved
// from the embedded files only; nothing is fetched from the network.
// Compiling takes a few milliseconds: create one Validator and reuse it.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterFormat(dateTimeFormat)
	c.UseLoader(embeddedLoader{})

	v := &Validator{schemas: make(map[string]*jsonschema.Schema), docs: make(map[string]any)}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".json" {
			return err
		}
		s, err := c.Compile(baseURL + name)
		if err != nil {
			return fmt.Errorf("schemas: compile %s: %w", name, err)
		}
		v.schemas[name] = s
		doc, err := embeddedLoader{}.Load(baseURL + name)
		if err != nil {
			return fmt.Errorf("schemas: load %s: %w", name, err)
		}
		v.docs[baseURL+name] = doc
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Validate checks doc, a JSON document, against the embedded schema name
// (e.g. [InboundEvent]). It returns nil when doc matches, a
// [*ValidationError] listing every violation when it does not (or is not
// JSON), and an error matching [ErrUnknownSchema] for an unknown name.
//
// For [InboundEvent], [CommandEvent] and [ResultEvent] it also checks the
// rules that JSON Schema cannot express, such as an inbound `type` ending in
// data.msg_type, a result's `source` being
// /wxkf/<data.appid>/<data.business_id>/egress, or a command id being at
// most 256 bytes long; and for a command ([CommandEvent], [SendCommandData],
// [TypingCommandData]) that no object repeats a member name, which a JSON
// parser would otherwise resolve in its own way (encoding/json keeps the
// last). Other JSON Schema validators skip those.
func (v *Validator) Validate(name string, doc []byte) error {
	s, ok := v.schemas[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return &ValidationError{Schema: name, Violations: []Violation{{Message: "not JSON: " + err.Error()}}}
	}

	var vs []Violation
	if err := s.Validate(inst); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return fmt.Errorf("schemas: validate %s: %w", name, err)
		}
		vs = v.appendLeaves(vs, verr)
	}
	switch name {
	case InboundEvent:
		vs = append(vs, checkInboundEvent(inst)...)
	case CommandEvent:
		vs = append(vs, checkCommandEvent(inst)...)
		vs = append(vs, repeatedMembers(doc)...)
	case SendCommandData, TypingCommandData:
		vs = append(vs, repeatedMembers(doc)...)
	case ResultEvent:
		vs = append(vs, checkResultEvent(inst)...)
	}
	if len(vs) == 0 {
		return nil
	}
	slices.SortFunc(vs, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.Location, b.Location), cmp.Compare(a.Message, b.Message))
	})
	return &ValidationError{Schema: name, Violations: slices.Compact(vs)}
}

// appendLeaves appends the leaves of the error tree e, the actual
// violations; inner nodes only say which keyword (allOf, $ref, …) led there.
// A failed oneOf whose alternatives all have titles is a violation of its
// own, naming them, since its causes alone do not say that exactly one
// alternative must match.
func (v *Validator) appendLeaves(vs []Violation, e *jsonschema.ValidationError) []Violation {
	var oneOf string
	if k, ok := e.ErrorKind.(*kind.OneOf); ok {
		oneOf = v.oneOfMessage(e.SchemaURL, k)
	}
	if oneOf != "" {
		vs = append(vs, Violation{Location: pointer(e.InstanceLocation), Message: oneOf})
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			vs = v.appendLeaves(vs, c)
		}
		return vs
	}
	if oneOf != "" {
		return vs
	}
	return append(vs, Violation{Location: pointer(e.InstanceLocation), Message: message(e.ErrorKind)})
}

// oneOfMessage describes the failed oneOf k of the schema at schemaURL by
// the titles of its alternatives, e.g. "want exactly one of: by media_id,
// by url, by object; got by media_id and by url". It returns "" when an
// alternative has no title.
func (v *Validator) oneOfMessage(schemaURL string, k *kind.OneOf) string {
	file, frag, _ := strings.Cut(schemaURL, "#")
	s, ok := resolvePointer(v.docs[file], frag)
	obj, _ := s.(map[string]any)
	alts, _ := obj["oneOf"].([]any)
	if !ok || len(alts) == 0 {
		return ""
	}
	titles := make([]string, len(alts))
	for i, a := range alts {
		m, _ := a.(map[string]any)
		if titles[i], _ = m["title"].(string); titles[i] == "" {
			return ""
		}
	}
	got := "none"
	if len(k.Subschemas) > 0 {
		var matched []string
		for _, i := range k.Subschemas {
			if i >= 0 && i < len(titles) {
				matched = append(matched, titles[i])
			}
		}
		got = strings.Join(matched, " and ")
	}
	return "want exactly one of: " + strings.Join(titles, ", ") + "; got " + got
}

// resolvePointer returns the value at the JSON Pointer ptr in doc.
func resolvePointer(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	r := strings.NewReplacer("~1", "/", "~0", "~")
	for tok := range strings.SplitSeq(strings.TrimPrefix(ptr, "/"), "/") {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = m[r.Replace(tok)]; !ok {
			return nil, false
		}
	}
	return doc, true
}

// message renders k in English.
func message(k jsonschema.ErrorKind) string {
	if _, ok := k.(*kind.FalseSchema); ok {
		// Our schemas use `false` for a property that must be absent.
		return "not allowed here"
	}
	// The library renders a kind only through an error value.
	return (&jsonschema.ValidationError{ErrorKind: k}).BasicOutput().Error.String()
}

// pointer returns the JSON Pointer made of tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	r := strings.NewReplacer("~", "~0", "/", "~1")
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(r.Replace(t))
	}
	return b.String()
}

// embeddedLoader loads schemas below baseURL from the embedded files and
// refuses everything else.
type embeddedLoader struct{}

// Load implements [jsonschema.URLLoader].
func (embeddedLoader) Load(url string) (any, error) {
	name, ok := strings.CutPrefix(url, baseURL)
	if !ok {
		return nil, fmt.Errorf("schemas: %s is not embedded (no network access)", url)
	}
	f, err := files.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}
