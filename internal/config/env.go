package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// CheckEnviron reports every variable in environ (os.Environ's form,
// NAME=value) that starts with [EnvPrefix] but names nothing kfbridge
// reads, since such a variable, misspelt, would otherwise be ignored
// without a word. Valid are the overrides of every configuration key
// (derived from [Config], list elements at any index), the variables
// kfbridge's other tools read (KFBRIDGE_APPID and KFBRIDGE_NATS_CREDS for
// kfctl, KFBRIDGE_REQUIRE_… for the tests, KFBRIDGE_PW of the README's
// NATS server sample), and the names in referenced (the
// ${NAME} references of the configuration file). The error joins one error
// per variable, each wrapping [ErrUnknownVariable] and naming the nearest
// valid variable; it never shows a value.
func CheckEnviron(environ []string, referenced []string) error {
	templates := envTemplates()
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || otherVariable(name) || templates[envTemplate(name)] || slices.Contains(referenced, name) {
			continue
		}
		hint := "it names no configuration key"
		if near := nearestVariable(name, templates); near != "" {
			hint = "did you mean " + near + "?"
		}
		errs = append(errs, fmt.Errorf("%w %s; %s", ErrUnknownVariable, name, hint))
	}
	return errors.Join(errs...)
}

// otherVariable reports whether name is a KFBRIDGE_ variable that is not
// a configuration key but read by another kfbridge tool or documented.
func otherVariable(name string) bool {
	if strings.HasPrefix(name, "KFBRIDGE_REQUIRE_") { // tests: KFBRIDGE_REQUIRE_DOCKER, …_CBOT (.ci/run)
		return true
	}
	switch name {
	case "KFBRIDGE_APPID", "KFBRIDGE_NATS_CREDS", // kfctl
		"KFBRIDGE_PW": // the README's NATS server accounts sample
		return true
	}
	return false
}

// indexPattern matches a list index inside a variable name.
var indexPattern = regexp.MustCompile(`_[0-9]+_`)

// envTemplate is name with every list index replaced by #, as in the
// names of [envTemplates].
func envTemplate(name string) string {
	// Twice: ReplaceAll does not see an index right after another.
	t := indexPattern.ReplaceAllString(name, "_#_")
	return indexPattern.ReplaceAllString(t, "_#_")
}

// envTemplates returns the override variable of every configuration key,
// list indexes written as # (KFBRIDGE_APPS_#_SECRET), walking [Config] by
// its yaml tags as the overrides are applied.
func envTemplates() map[string]bool {
	names := map[string]bool{}
	var walk func(t reflect.Type, name string)
	walk = func(t reflect.Type, name string) {
		switch {
		case t.Kind() == reflect.Struct && t != durationType:
			for i := range t.NumField() {
				tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
				if tag == "" || tag == "-" {
					continue
				}
				walk(t.Field(i).Type, name+"_"+strings.ToUpper(tag))
			}
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
			walk(t.Elem(), name+"_#")
		default:
			names[name] = true
		}
	}
	walk(reflect.TypeFor[Config](), strings.TrimSuffix(EnvPrefix, "_"))
	return names
}

// nearestVariable returns the valid variable closest to name (edit
// distance on the templates, name's own list indexes put back), or "" when
// none is close.
func nearestVariable(name string, templates map[string]bool) string {
	tmpl := envTemplate(name)
	best, bestDist := "", len(tmpl)/3+2
	for t := range templates {
		if d := editDistance(tmpl, t); d < bestDist || d == bestDist && best != "" && t < best {
			best, bestDist = t, d
		}
	}
	if best == "" {
		return ""
	}
	indexes := indexPattern.FindAllString(name, -1)
	var b strings.Builder
	for part := range strings.SplitSeq(best, "#") {
		if b.Len() > 0 {
			idx := "0"
			if len(indexes) > 0 {
				idx, indexes = strings.Trim(indexes[0], "_"), indexes[1:]
			}
			b.WriteString(idx)
		}
		b.WriteString(part)
	}
	return b.String()
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// References returns the names of the variables the configuration data
// references as ${NAME} or ${NAME:-default}, for [CheckEnviron].
func References(data []byte) []string {
	var names []string
	for _, m := range refPattern.FindAllSubmatch(data, -1) {
		names = append(names, string(m[1]))
	}
	return names
}

// CheckIndexes reports every KFBRIDGE_ variable in environ that names a
// key of a list element cfg does not have, which no override applied: an
// index past the end adds an element only right after the last one (after
// KFBRIDGE_APPS_0_…, KFBRIDGE_APPS_1_… adds an app, KFBRIDGE_APPS_2_…
// alone does not). Call it with the loaded cfg; each error wraps
// [ErrUnknownVariable].
func CheckIndexes(cfg *Config, environ []string) error {
	used := map[string]bool{}
	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		switch {
		case v.Kind() == reflect.Struct && v.Type() != durationType:
			for i := range v.NumField() {
				tag := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]
				if tag != "" && tag != "-" {
					walk(v.Field(i), name+"_"+strings.ToUpper(tag))
				}
			}
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
			for i := range v.Len() {
				walk(v.Index(i), fmt.Sprintf("%s_%d", name, i))
			}
		default:
			used[name] = true
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), strings.TrimSuffix(EnvPrefix, "_"))
	templates := envTemplates()
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && !used[name] && strings.Contains(envTemplate(name), "#") && templates[envTemplate(name)] {
			errs = append(errs, fmt.Errorf("%w %s; its list index skips one: a new element's index follows right after the last one's (from 0)", ErrUnknownVariable, name))
		}
	}
	return errors.Join(errs...)
}
