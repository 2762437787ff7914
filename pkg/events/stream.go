package events

import (
	"strconv"
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

// Names of the streams of commands, results and dead letters, and the
// default partitioning of commands ([OutboundStream]).
const (
	// OutboundStreamName stores commands from bots, partitioned by
	// conversation.
	OutboundStreamName = "WXKF_OUT"
	// ResultStreamName stores every command's final outcome.
	ResultStreamName = "WXKF_RESULT"
	// DeadLetterStreamName keeps commands that failed for good, for
	// inspection and replay.
	DeadLetterStreamName = "WXKF_DLQ"
	// DefaultPartitions is the default number of command partitions
	// (egress.partitions): one consumer, served by one egress replica at a
	// time, which reads the stream unfiltered.
	DefaultPartitions = 1
)

// partitionedPrefix starts a command's subject as stored: the stream maps
// wxkf.out.<appid>.<bid>.<openid>.<verb> to
// wxkf.outp.<partition>.<appid>.<bid>.<openid>.<verb>, the partition a
// hash of the conversation (not the verb, so send and typing stay in order).
const partitionedPrefix = "wxkf.outp."

// commandSubjects are the subjects [OutboundStream] stores:
// wxkf.out.<appid>.<bid>.<openid>.<verb>.
const commandSubjects = OutboundPrefix + "*.*.*.*"

// PartitionFilter returns the filter of one partition's stored subjects in
// [OutboundStream], for the egress's consumers.
func PartitionFilter(partition int) string {
	return partitionedPrefix + strconv.Itoa(partition) + ".>"
}

// OutboundStream returns the definition of the command stream with n
// partitions. The partition is computed by the server when the command is
// stored, so publishers need not know it. Changing n re-partitions only new
// commands; drain the stream before changing it.
func OutboundStream(n int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        OutboundStreamName,
		Description: "kfbridge: commands from bots, partitioned by conversation",
		// Only a command subject's shape: a publish on wxkf.out.… with
		// other than four tokens fails (no stream answers) instead of
		// being stored where no consumer reads it until MaxAge.
		Subjects: []string{commandSubjects},
		SubjectTransform: &jetstream.SubjectTransformConfig{
			Source: commandSubjects,
			Destination: partitionedPrefix + "{{partition(" + strconv.Itoa(n) + ",1,2,3)}}" +
				".{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}.{{wildcard(4)}}",
		},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   1,
		MaxAge:     24 * time.Hour,
		Duplicates: 2 * time.Minute,
	}
}

// ResultStream returns the definition of the result stream,
// [ResultStreamName]; results are deduplicated by command id.
func ResultStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        ResultStreamName,
		Description: "kfbridge: one final outcome per command",
		Subjects:    []string{ResultSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
		MaxAge:      7 * 24 * time.Hour,
		Duplicates:  2 * time.Minute,
	}
}

// DeadLetterStream returns the definition of the dead-letter stream,
// [DeadLetterStreamName]: thirty days of failed sends, with the headers
// [HeaderReason] and the others.
func DeadLetterStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        DeadLetterStreamName,
		Description: "kfbridge: commands that failed for good, with the reason in headers",
		Subjects:    []string{DeadLetterSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
		MaxAge:      30 * 24 * time.Hour,
		Duplicates:  2 * time.Minute,
	}
}
