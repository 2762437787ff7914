package events

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// InboundStreamName is the JetStream stream that stores every push.
const InboundStreamName = "WXKF_IN"

// InboundStream returns the default definition of the stream that stores
// pushes: file storage, one replica, seven days, a one-minute duplicate
// window. Callers adjust Replicas, MaxAge, Duplicates and Storage from their
// configuration and create or update it with
// [jetstream.JetStream.CreateOrUpdateStream].
func InboundStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        InboundStreamName,
		Description: "kfbridge: pushes from WeChat users, one CloudEvent per push",
		Subjects:    []string{InboundSubjects},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
		MaxAge:      7 * 24 * time.Hour,
		Duplicates:  time.Minute,
	}
}
