package schemas

import (
	"errors"

	"github.com/kfbridge/kfbridge/internal/rfc3339"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// dateTimeFormat is the "date-time" format the validator asserts: RFC 3339
// read strictly by [rfc3339.Valid], as events.ParseCommand reads a
// command's time. The library's own checker takes "+1" or "-0" for a
// two-digit field (it parses them with strconv.Atoi).
var dateTimeFormat = &jsonschema.Format{Name: "date-time", Validate: func(v any) error {
	s, ok := v.(string)
	if !ok || rfc3339.Valid(s) {
		return nil
	}
	return errors.New("not an RFC 3339 date-time")
}}
