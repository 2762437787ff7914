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
)

// baseURL is what every embedded schema's $id starts with; the rest of the
// $id is the schema's name.
const baseURL = "https://kfbridge.dev/schemas/"

//go:embed asyncapi.yaml in/*.json
var files embed.FS

// FS returns the embedded files: asyncapi.yaml and the JSON Schemas under
// in/, at the same paths as in the repository's schemas/ directory.
func FS() fs.FS {
	return files
}

// Validator validates documents against the embedded schemas. Create it with
// [NewValidator]; it is safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema // by name
}

// NewValidator compiles every embedded JSON Schema (draft 2020-12, with
// format assertions such as date-time turned on). References are resolved
// from the embedded files only; nothing is fetched from the network.
// Compiling takes a few milliseconds: create one Validator and reuse it.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(embeddedLoader{})

	v := &Validator{schemas: make(map[string]*jsonschema.Schema)}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".json" {
			return err
		}
		s, err := c.Compile(baseURL + name)
		if err != nil {
			return fmt.Errorf("schemas: compile %s: %w", name, err)
		}
		v.schemas[name] = s
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
// For [InboundEvent] it also checks the rules that relate two fields and
// that JSON Schema cannot express, such as `type` ending in data.msg_type
// and `source` being /wxkf/<data.appid>/<data.business_id>; other JSON
// Schema validators skip those.
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
		vs = appendLeaves(vs, verr)
	}
	if name == InboundEvent {
		vs = append(vs, checkInboundEvent(inst)...)
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
func appendLeaves(vs []Violation, e *jsonschema.ValidationError) []Violation {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			vs = appendLeaves(vs, c)
		}
		return vs
	}
	return append(vs, Violation{Location: pointer(e.InstanceLocation), Message: message(e.ErrorKind)})
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
