package handover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// BucketName is the KV bucket of conversations handed over, keyed
// <appid>.<bid>.<openid>; a record lives [events.HandoverWindow].
const BucketName = "WXKF_HANDOVER"

// BucketConfig returns the definition of [BucketName].
func BucketConfig(replicas int, storage jetstream.StorageType) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      BucketName,
		Description: "kfbridge: conversations handed to human agents in the last 30 min",
		TTL:         events.HandoverWindow,
		History:     1,
		Replicas:    replicas,
		Storage:     storage,
	}
}

// EnsureBucket creates or updates [BucketName] and returns it.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, replicas int, storage jetstream.StorageType) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, BucketConfig(replicas, storage))
	if err != nil {
		return nil, fmt.Errorf("kv %s: %w", BucketName, err)
	}
	return kv, nil
}

// key is the record's key; tokens are [A-Za-z0-9_-], valid KV key parts.
func key(in *events.Inbound) string { return in.AppID + "." + in.BusinessID + "." + in.OpenID }

// handledBy returns the conversation's handled_by from its record.
func handledBy(ctx context.Context, kv jetstream.KeyValue, in *events.Inbound) (string, error) {
	_, err := kv.Get(ctx, key(in))
	switch {
	case err == nil:
		return events.HandledByHumanPending, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return events.HandledByBot, nil
	default:
		return "", fmt.Errorf("kv get: %w", err)
	}
}

// record notes that in was handed over at at.
func record(ctx context.Context, kv jetstream.KeyValue, in *events.Inbound, at time.Time) error {
	if _, err := kv.Put(ctx, key(in), at.UTC().AppendFormat(nil, time.RFC3339Nano)); err != nil {
		return fmt.Errorf("kv put: %w", err)
	}
	return nil
}
