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
	State    string          `json:"state"`
	Attempts int             `json:"attempts"`
	LastCode int             `json:"last_code,omitempty"`
	LastMsg  string          `json:"last_msg,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
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

func (e *Egress) saveRecord(ctx context.Context, key string, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := e.natsCtx(ctx)
	defer cancel()
	if _, err := e.sent.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write sent record: %w", err)
	}
	return nil
}
