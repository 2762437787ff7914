// Package config loads the kfbridge configuration shared by every binary.
//
// A configuration is a YAML file (unknown keys are an error) overlaid on the
// documented defaults, then overridden by environment variables named
// KFBRIDGE_ followed by the key path in upper case, with list indexes as path
// elements: KFBRIDGE_NATS_URL, KFBRIDGE_NATS_EMBEDDED_STORE_DIR,
// KFBRIDGE_APPS_0_SECRET; a list of strings is comma-separated
// (KFBRIDGE_APPS_0_MODES=safe,compatible). Any string value in the file may reference the
// environment as ${NAME}; a reference to an unset variable is an error, so a
// missing secret is noticed at start rather than at the first push.
// ${NAME:-default} takes default when NAME is unset or empty.
// [CheckEnviron] refuses a KFBRIDGE_ variable that names no key (a typo
// would otherwise be ignored), suggesting the nearest valid name.
//
// # Usage
//
//	cfg, err := config.Load(path, os.LookupEnv)
//	if err != nil { ... }
//
// Secrets are of type [Secret], whose String and LogValue methods redact the
// value, so a Config can be logged without leaking them.
//
// # Concurrency
//
// A [Config] is a plain value: safe to read from several goroutines once
// loaded, not safe to modify concurrently.
//
// # Errors
//
// [Load] wraps [ErrInvalid] for every validation failure, listing all
// problems found at once, and returns YAML and environment errors with the
// offending key or variable named.
package config
