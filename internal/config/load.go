package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "KFBRIDGE_"

// LookupFunc looks up an environment variable, like [os.LookupEnv].
type LookupFunc func(string) (string, bool)

// Load reads the YAML file at path (none when path is empty) over
// [Default], applies KFBRIDGE_… overrides from lookup, and validates.
func Load(path string, lookup LookupFunc) (*Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := decodeYAML(data, &cfg, lookup); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, lookup); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Parse decodes YAML config data over [Default] without reading the
// environment for overrides (${NAME} references still use lookup), and
// validates. It is what tests and embedding programs use.
func Parse(data []byte, lookup LookupFunc) (*Config, error) {
	cfg := Default()
	if err := decodeYAML(data, &cfg, lookup); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func decodeYAML(data []byte, cfg *Config, lookup LookupFunc) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("parse yaml: %w", err)
	}
	if root.Kind == 0 { // empty document
		return nil
	}
	if err := expandNode(&root, lookup); err != nil {
		return err
	}
	// Re-encode the expanded tree so that the strict decoder (which rejects
	// unknown keys) sees properly quoted values, whatever the secrets hold.
	expanded, err := yaml.Marshal(&root)
	if err != nil {
		return fmt.Errorf("re-encode yaml: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("decode yaml: %w", err)
	}
	return nil
}

// refPattern matches ${NAME} and ${NAME:-default}.
var refPattern = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// expandNode replaces the references in the scalars under n: ${NAME} by
// the variable's value (an error when it is unset), ${NAME:-default} by
// its value, or by default when it is unset or empty (as the shell does).
func expandNode(n *yaml.Node, lookup LookupFunc) error {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		var missing []string
		n.Value = refPattern.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := refPattern.FindStringSubmatch(ref)
			name, def := m[1], m[2]
			v, ok := lookup(name)
			if def != "" {
				if !ok || v == "" {
					return def[len(":-"):]
				}
				return v
			}
			if !ok {
				missing = append(missing, name)
			}
			return v
		})
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s (line %d)", ErrUnsetVariable, strings.Join(missing, ", "), n.Line)
		}
		n.Tag = "!!str"
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		if err := expandNode(c, lookup); err != nil {
			return err
		}
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// applyEnv walks the Config by its yaml tags and sets every field whose
// KFBRIDGE_… variable is set. List elements are addressed by index; an index
// past the end grows the list, so an app can be configured from the
// environment alone.
func applyEnv(cfg *Config, lookup LookupFunc) error {
	return envWalk(reflect.ValueOf(cfg).Elem(), strings.TrimSuffix(EnvPrefix, "_"), lookup)
}

func envWalk(v reflect.Value, name string, lookup LookupFunc) error {
	switch {
	case v.Kind() == reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			if err := envWalk(v.Field(i), name+"_"+strings.ToUpper(tag), lookup); err != nil {
				return err
			}
		}
		return nil
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		for i := 0; ; i++ {
			prefix := fmt.Sprintf("%s_%d_", name, i)
			if i >= v.Len() && !anyEnvWithPrefix(prefix, v.Type().Elem(), lookup) {
				return nil
			}
			if i >= v.Len() {
				v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
			}
			if err := envWalk(v.Index(i), fmt.Sprintf("%s_%d", name, i), lookup); err != nil {
				return err
			}
		}
	}
	raw, ok := lookup(name)
	if !ok {
		return nil
	}
	if err := setScalar(v, raw); err != nil {
		return fmt.Errorf("environment %s: %w", name, err)
	}
	return nil
}

// anyEnvWithPrefix reports whether any leaf under prefix is set.
func anyEnvWithPrefix(prefix string, t reflect.Type, lookup LookupFunc) bool {
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + strings.ToUpper(tag)
		if t.Field(i).Type.Kind() == reflect.Struct {
			if anyEnvWithPrefix(name+"_", t.Field(i).Type, lookup) {
				return true
			}
			continue
		}
		if _, ok := lookup(name); ok {
			return true
		}
	}
	return false
}

func setScalar(v reflect.Value, raw string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot set a %s from the environment", v.Type())
		}
		// A comma-separated list; empty sets an empty list.
		items := []string{}
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items).Convert(v.Type()))
	default:
		return fmt.Errorf("cannot set a %s from the environment", v.Type())
	}
	return nil
}
