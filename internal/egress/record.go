package egress

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// States of a sent record.
const (
	stateSending = "sending" // a call may be in flight
	stateRetry   = "retry"   // a call failed before WeChat acted; retry later
	stateDone    = "done"    // the outcome is final; Result holds it
)

// record is the KV value kept per command in [SentBucket].
type record struct {
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// Retries counts the command's retries (put back for later), which
	// set its backoff.
	Retries  int             `json:"retries,omitempty"`
	LastCode int             `json:"last_code,omitempty"`
	LastMsg  string          `json:"last_msg,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	// Subject (wxkf.out.<appid>.<bid>.<openid>.<verb>) and Digest (of the
	// command's data) bind the record to the command that wrote it: a
	// command reusing its id with another conversation or body is not that
	// command (records written before they existed bind nothing).
	Subject string `json:"subject,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// matches reports whether r was written for the command with subject and
// digest.
func (r record) matches(subject, digest string) bool {
	return r.Subject == "" || (r.Subject == subject && r.Digest == digest)
}

// dataDigest hashes a command's data in a canonical form (keys sorted,
// insignificant space dropped), so a bot that republishes the same data
// re-encoded is still the same command.
func dataDigest(data []byte) string {
	var v any
	if json.Unmarshal(data, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			data = b
		}
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// recordKey is the KV key of a command: its app and a hash of its id (ids
// are free-form; KV keys are not).
func recordKey(appid, commandID string) string {
	sum := sha256.Sum256([]byte(commandID))
	return appid + "." + hex.EncodeToString(sum[:20])
}

func (e *Egress) loadRecord(ctx context.Context, key string) (record, bool, error) {
	ctx, cancel := e.natsCtx(ctx)
	defer cancel()
	entry, err := e.sent.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("read sent record: %w", err)
	}
	var r record
	if err := json.Unmarshal(entry.Value(), &r); err != nil {
		return record{}, false, fmt.Errorf("sent record %s unreadable: %w", key, err)
	}
	return r, true, nil
}

// errRecordExists says a command's first record write found a record
// another delivery with the same id wrote in the meantime.
var errRecordExists = errors.New("sent record written by another delivery")

// saveRecord writes j's record. The first write of a command's record is a
// create: when another command with the same id (in another partition)
// wrote first, it fails with errRecordExists, and [Egress.handle] handles
// the command again, deciding on that record.
func (e *Egress) saveRecord(ctx context.Context, j *job) error {
	b, err := json.Marshal(j.rec)
	if err != nil {
		return err
	}
	ctx, cancel := e.natsCtx(ctx)
	defer cancel()
	if j.stored {
		_, err = e.sent.Put(ctx, j.key, b)
	} else {
		_, err = e.sent.Create(ctx, j.key, b)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		// Nothing was sent by this delivery yet (its first write is the one
		// before the call): handle it again against the record found.
		return errRecordExists
	}
	if err != nil {
		return fmt.Errorf("write sent record: %w", err)
	}
	j.stored = true
	return nil
}
