package kfctl

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// browseBefore is how dlq list read before paging (the baseline of
// BenchmarkDLQList): every message whole, one Next (one pull request)
// each, all of them.
func browseBefore(ctx context.Context, js jetstream.JetStream, filter string, fn func(jetstream.Msg) error) error {
	s, err := js.Stream(ctx, events.DeadLetterStreamName)
	if err != nil {
		return err
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return err
	}
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return err
		}
		if err := fn(msg); err != nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil || md.NumPending == 0 {
			return err
		}
	}
}

// BenchmarkDLQList lists 40 000 dead letters (two apps, 30 000 and
// 10 000): before (everything, one pull per message) against today's
// default page, --all, a header filter and an app's page.
//
//	go test -run '^$' -bench DLQList -benchtime 3x -count 5 ./internal/kfctl/
func BenchmarkDLQList(b *testing.B) {
	w := newWorld(b)
	publishDeadLetters(b, w.js, appID, 30000)
	publishDeadLetters(b, w.js, otherApp, 10000)
	r := &run{cfg: Config{Stdout: io.Discard, Stderr: io.Discard}, g: &globals{url: w.url, timeout: time.Minute}, out: io.Discard}
	b.Run("before-all", func(b *testing.B) {
		for b.Loop() {
			now := time.Now()
			t := newTable(io.Discard, "SEQ", "COMMAND_ID", "REASON", "ERRCODE", "SUBJECT", "AGE")
			n := 0
			err := browseBefore(b.Context(), w.js, events.DeadLetterSubjects, func(m jetstream.Msg) error {
				md, err := m.Metadata()
				if err != nil {
					return err
				}
				d := newDeadLetter(md.Sequence.Stream, m.Subject(), m.Headers(), md.Timestamp, now)
				t.row(d.Seq, d.CommandID, d.Reason, d.ErrCode, d.OriginalSubject, age(now, d.Time))
				n++
				return nil
			})
			if err != nil || n != 40000 {
				b.Fatal(n, err)
			}
			t.flush()
		}
	})
	for _, bm := range []struct {
		name  string
		q     dlqQuery
		limit int
	}{
		{"page", dlqQuery{}, 50},
		{"all", dlqQuery{}, 0},
		{"reason-page", dlqQuery{reasons: []string{"quota"}}, 50},
		{"app-page", dlqQuery{appid: otherApp}, 50},
		{"older-than-page", dlqQuery{olderThan: time.Nanosecond}, 50},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				if err := r.dlqList(b.Context(), bm.q, bm.limit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
