package kfctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/token"
)

// streamStatus is one stream of kfctl status.
type streamStatus struct {
	Name      string    `json:"name"`
	Messages  uint64    `json:"messages"`
	Bytes     uint64    `json:"bytes"`
	Consumers int       `json:"consumers"`
	FirstTime time.Time `json:"first_time,omitzero"`
	LastTime  time.Time `json:"last_time,omitzero"`
}

// consumerStatus is one consumer of kfctl status.
type consumerStatus struct {
	Stream      string `json:"stream"`
	Name        string `json:"name"`
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
	Waiting     int    `json:"waiting"`
}

// tokenStatus is one app's access token, without the token.
type tokenStatus struct {
	AppID string `json:"appid"`
	Mode  string `json:"mode"`
	// State is valid, expired or none (no token stored).
	State       string    `json:"state"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	FetchedAt   time.Time `json:"fetched_at,omitzero"`
	ForcedAt    time.Time `json:"forced_at,omitzero"`
	ForcedToday int       `json:"forced_today"`
	LeaseHolder string    `json:"lease_holder,omitempty"`
}

// tokenRecord is the part of a [token.BucketName] record kfctl reads:
// everything but the token itself, whose presence alone is noted.
type tokenRecord struct {
	AccessToken present   `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
	FetchedAt   time.Time `json:"fetched_at"`
	Mode        string    `json:"mode"`
	ForcedAt    time.Time `json:"forced_at"`
	ForceDay    string    `json:"force_day"`
	ForceCount  int       `json:"force_count"`
	LeaseHolder string    `json:"lease_holder"`
	LeaseUntil  time.Time `json:"lease_until"`
}

// present decodes a JSON string into whether it is non-empty, keeping
// nothing of it.
type present bool

func (p *present) UnmarshalJSON(b []byte) error {
	*p = len(b) > 2 && string(b) != "null"
	return nil
}

// status is the output of kfctl status.
type status struct {
	Streams   []streamStatus   `json:"streams"`
	Consumers []consumerStatus `json:"consumers"`
	// Hidden counts idle consumers not listed (without --all).
	Hidden      int           `json:"hidden_idle_consumers,omitempty"`
	Tokens      []tokenStatus `json:"tokens"`
	TokensError string        `json:"tokens_error,omitempty"`
	// ManageInstances counts the management service instances that
	// answered a ping (one per egress process).
	ManageInstances int `json:"manage_instances"`
}

// statusCmd is kfctl status.
func (r *run) statusCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show streams, consumers, token state and the management service",
		Long: `Status shows the WXKF streams, their consumers, each app's access token state —
never a token — and how many management service instances answer a ping.
Idle consumers of streams with more than 8 are counted, not listed, unless --all.`,
		Example: "  kfctl status\n  kfctl status --all --json",
		Args:    r.noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return r.status(cmd.Context(), all) },
	}
	cmd.Flags().BoolVar(&all, "all", false, "list idle consumers too (one per egress partition)")
	return cmd
}

// status prints streams, consumers, tokens and the management service.
func (r *run) status(ctx context.Context, showAll bool) error {
	all := &showAll
	nc, js, err := r.connectJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	now := time.Now()
	st := status{Streams: []streamStatus{}, Consumers: []consumerStatus{}, Tokens: []tokenStatus{}}

	streams := js.ListStreams(ctx)
	for info := range streams.Info() {
		if !strings.Contains(info.Config.Name, "WXKF") {
			continue
		}
		st.Streams = append(st.Streams, streamStatus{Name: info.Config.Name, Messages: info.State.Msgs, Bytes: info.State.Bytes,
			Consumers: info.State.Consumers, FirstTime: info.State.FirstTime, LastTime: info.State.LastTime})
	}
	if err := streams.Err(); err != nil {
		return fmt.Errorf("list streams: %w", err)
	}
	slices.SortFunc(st.Streams, func(a, b streamStatus) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range st.Streams {
		if s.Consumers == 0 {
			continue
		}
		stream, err := js.Stream(ctx, s.Name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", s.Name, err)
		}
		list := stream.ListConsumers(ctx)
		var cs []consumerStatus
		for c := range list.Info() {
			cs = append(cs, consumerStatus{Stream: s.Name, Name: c.Name, Pending: c.NumPending, AckPending: c.NumAckPending,
				Redelivered: c.NumRedelivered, Waiting: c.NumWaiting})
		}
		if err := list.Err(); err != nil {
			return fmt.Errorf("consumers of %s: %w", s.Name, err)
		}
		slices.SortFunc(cs, func(a, b consumerStatus) int { return strings.Compare(a.Name, b.Name) })
		for _, c := range cs {
			if !*all && c.Pending == 0 && c.AckPending == 0 && c.Redelivered == 0 && len(cs) > 8 {
				st.Hidden++
				continue
			}
			st.Consumers = append(st.Consumers, c)
		}
	}
	if st.Tokens, err = tokens(ctx, js, now); err != nil {
		st.TokensError = err.Error()
	}
	st.ManageInstances = pingManage(nc)

	if r.g.json {
		return writeJSON(r.out, st)
	}
	return r.printStatus(st, now)
}

// tokens reads the token bucket, never keeping a token.
func tokens(ctx context.Context, js jetstream.JetStream, now time.Time) ([]tokenStatus, error) {
	out := []tokenStatus{}
	kv, err := js.KeyValue(ctx, token.BucketName)
	if err != nil {
		return out, fmt.Errorf("bucket %s: %w", token.BucketName, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return out, fmt.Errorf("bucket %s: %w", token.BucketName, err)
	}
	var names []string
	for k := range keys.Keys() {
		names = append(names, k)
	}
	slices.Sort(names)
	day := now.In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	for _, k := range names {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("token of %s: %w", k, err)
		}
		var rec tokenRecord
		ts := tokenStatus{AppID: k, State: "unreadable"}
		if json.Unmarshal(e.Value(), &rec) == nil {
			ts = tokenStatus{AppID: k, Mode: rec.Mode, ExpiresAt: rec.ExpiresAt, FetchedAt: rec.FetchedAt, ForcedAt: rec.ForcedAt}
			switch {
			case !bool(rec.AccessToken):
				ts.State = "none"
			case now.Before(rec.ExpiresAt):
				ts.State = "valid"
			default:
				ts.State = "expired"
			}
			if rec.ForceDay == day {
				ts.ForcedToday = rec.ForceCount
			}
			if rec.LeaseHolder != "" && now.Before(rec.LeaseUntil) {
				ts.LeaseHolder = rec.LeaseHolder
			}
		}
		out = append(out, ts)
	}
	return out, nil
}

// pingManage counts the management service instances answering a ping
// within half a second.
func pingManage(nc *nats.Conn) int {
	sub, err := nc.SubscribeSync(nc.NewRespInbox())
	if err != nil {
		return 0
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.PING."+manage.ServiceName, sub.Subject, nil); err != nil {
		return 0
	}
	n := 0
	for {
		if _, err := sub.NextMsg(500 * time.Millisecond); err != nil {
			return n
		}
		n++
	}
}

func (r *run) printStatus(st status, now time.Time) error {
	t := newTable(r.out, "STREAM", "MESSAGES", "BYTES", "CONSUMERS", "LAST")
	for _, s := range st.Streams {
		t.row(s.Name, s.Messages, s.Bytes, s.Consumers, age(now, s.LastTime))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(r.out)
	t = newTable(r.out, "STREAM", "CONSUMER", "PENDING", "ACK_PENDING", "REDELIVERED", "WAITING")
	for _, c := range st.Consumers {
		t.row(c.Stream, c.Name, c.Pending, c.AckPending, c.Redelivered, c.Waiting)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if st.Hidden > 0 {
		fmt.Fprintf(r.out, "(%d idle consumers not shown; --all shows them)\n", st.Hidden)
	}
	fmt.Fprintln(r.out)
	if st.TokensError != "" {
		fmt.Fprintf(r.out, "tokens: not readable: %s\n", st.TokensError)
	} else {
		t = newTable(r.out, "APPID", "MODE", "TOKEN", "EXPIRES_IN", "FETCHED", "FORCED_TODAY", "LEASE")
		for _, tk := range st.Tokens {
			expires := "-"
			if !tk.ExpiresAt.IsZero() {
				expires = tk.ExpiresAt.Sub(now).Round(time.Second).String()
			}
			t.row(tk.AppID, tk.Mode, tk.State, expires, age(now, tk.FetchedAt), tk.ForcedToday, tk.LeaseHolder)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(r.out)
	_, err := fmt.Fprintf(r.out, "management service %s: %d instance(s)\n", manage.ServiceName, st.ManageInstances)
	return err
}
