package broker

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/handover"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// internalUser is the user of the bridge's own in-process connection.
const internalUser = config.InternalUser

// BridgeAccount is the NATS account of the embedded server that holds the
// bridge, its role bridge users and all of JetStream: the streams, the KV
// buckets and the object store.
const BridgeAccount = "KFBRIDGE"

// BotAccount returns the NATS account of the embedded server of role bot
// user: an account of its own, without JetStream, that reaches the bridge
// only through the imports of [BotImports].
func BotAccount(user string) string { return "BOT_" + user }

// BridgeInboxPrefix is the inbox prefix of every connection the bridge
// opens (nats.CustomInboxPrefix): its KV reads of the token bucket, its
// publish acks and its requests are answered under it. Bots live in other
// accounts and cannot see the bridge's inboxes at all; the prefix is
// defence in depth, and lets an external NATS whose bots share the
// bridge's account deny them "_KFBRIDGE_INBOX.>".
const BridgeInboxPrefix = "_KFBRIDGE_INBOX"

// Limits of each bot account of the embedded server, so that one bot
// cannot exhaust the process's memory with connections or subscriptions
// (nats-server's account limits, honoured without operator/JWT mode).
// Subscriptions are counted per connection by nats-server, so a bot holds
// at most BotMaxConnections × BotMaxSubscriptions of them.
const (
	// BotMaxConnections is the most connections a bot account holds at
	// once; the next is refused ("maximum account active connections
	// exceeded").
	BotMaxConnections = 64
	// BotMaxSubscriptions is the most subscriptions one connection of a
	// bot holds; the next closes the connection.
	BotMaxSubscriptions = 1000
)

// noJetStream is a subject of the bridge account that nobody answers. Each
// bot account imports "$JS.API.INFO" from it: nats-server gives an account
// without JetStream the system's JetStream API ("$JS.API.>", answering
// "JetStream not enabled") unless an import already covers $JS.API.INFO,
// and that import would answer the consumer requests a bot imports from
// the bridge account too, racing the real answer.
const noJetStream = "kfbridge.nojetstream"

// Export is one subject the bridge account offers bot accounts: a service
// (requests, whose replies the server maps back to the requester, or
// publishes) or a stream (messages the bot may subscribe to).
type Export struct {
	// Subject is exported and imported under the same name, except
	// "$JS.API.INFO", imported from noJetStream.
	Subject string
	// Service is true for a service export, false for a stream export.
	Service bool
	// Streamed marks a service with many responses to one request
	// (a consumer's MSG.NEXT); others answer once.
	Streamed bool
}

// BotImports returns what the bridge account exports to, and bot user's
// account imports from it:
//
//   - the services wxkf.out.> (commands; JetStream's publish ack reaches
//     the bot) and wxkf.api.> (the management API);
//   - the streams wxkf.in.> and wxkf.result.>, for core subscribers;
//   - the stream wxkf.decide.> (handover decision requests) and the
//     service _KFBRIDGE_DECIDE.> ([handover.ReplyPrefix]), where a bot
//     publishes its answer: it can answer a decision, never read one;
//   - for each of its consumers (which the bridge creates, [Broker.EnsureBotConsumers]):
//     $JS.API.CONSUMER.INFO.<stream>.<name>, $JS.API.CONSUMER.MSG.NEXT.<stream>.<name>
//     (streamed) and $JS.ACK.<stream>.<name>.> — nothing that creates,
//     updates or deletes a consumer, and nothing of another stream.
//
// Replies to a bot's requests cross the account boundary only through the
// server's mapping back to the requester: whatever reply subject a bot
// sets, the bridge account answers on a "_R_." subject of its own, never
// on a subject of the bridge account the bot names.
func BotImports(u config.User) []Export {
	out := []Export{
		{Subject: events.OutboundSubjects, Service: true},
		{Subject: "wxkf.api.>", Service: true},
		{Subject: events.InboundSubjects},
		{Subject: events.ResultSubjects},
		// Handover decisions: requests reach the bot as a stream; it
		// answers by publishing on the request's reply subject, under
		// handover.ReplyPrefix, which it can publish to but never read.
		{Subject: events.DecideSubjects},
		{Subject: handover.ReplyPrefix + ".>", Service: true},
	}
	for _, c := range u.BotConsumers() {
		stream := ConsumerStream(c.Stream)
		out = append(out,
			Export{Subject: "$JS.API.CONSUMER.INFO." + stream + "." + c.Name, Service: true},
			Export{Subject: "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + c.Name, Service: true, Streamed: true},
			Export{Subject: "$JS.ACK." + stream + "." + c.Name + ".>", Service: true},
		)
	}
	return out
}

// ConsumerStream returns the stream name of a [config.BotConsumer] stream
// (in or result).
func ConsumerStream(s string) string {
	if s == config.ConsumerStreamResult {
		return events.ResultStreamName
	}
	return events.InboundStreamName
}

// embeddedAuth is the accounts and users of the embedded server, and the
// bridge's own credentials.
type embeddedAuth struct {
	bridge     *server.Account
	accounts   []*server.Account
	users      []*server.User
	noAuthUser string
	user       string
	password   string
}

// accounts builds the embedded server's accounts: the bridge account with
// the internal user and role bridge users, and one account per bot with
// its imports. Without configured users, clients that present no
// credentials are the internal user (no authentication, as before).
func accounts(cfg config.Embedded) (*embeddedAuth, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	bridge := server.NewAccount(BridgeAccount)
	a := &embeddedAuth{bridge: bridge, accounts: []*server.Account{bridge}, user: internalUser, password: hex.EncodeToString(b[:])}
	if len(cfg.Users) == 0 {
		// Clients without credentials are the internal user. nats-server
		// compares a no_auth_user's password with itself, so it stays
		// plain here; the server's plaintext warning is about nobody's
		// secret then (see serverLogger).
		a.users = append(a.users, &server.User{Username: a.user, Password: a.password, Account: bridge})
		a.noAuthUser = internalUser
		return a, nil
	}
	// The server holds only a bcrypt hash of the internal password;
	// MinCost, since it is 192 random bits, not a human's.
	hash, err := bcrypt.GenerateFromPassword([]byte(a.password), bcrypt.MinCost)
	if err != nil {
		return nil, fmt.Errorf("hash the internal password: %w", err)
	}
	a.users = append(a.users, &server.User{Username: a.user, Password: string(hash), Account: bridge})
	type export struct {
		Export
		to []*server.Account
	}
	var (
		exports []*export
		bySubj  = map[string]*export{}
	)
	for _, u := range cfg.Users {
		if u.Role == "bridge" {
			a.users = append(a.users, &server.User{Username: u.User, Password: u.Password.Value(), Account: bridge})
			continue
		}
		acc, err := limitedAccount(BotAccount(u.User))
		if err != nil {
			return nil, err
		}
		a.accounts = append(a.accounts, acc)
		a.users = append(a.users, &server.User{Username: u.User, Password: u.Password.Value(), Account: acc})
		for _, e := range append(BotImports(u), Export{Subject: noJetStream, Service: true}) {
			x := bySubj[e.Subject]
			if x == nil {
				x = &export{Export: e}
				bySubj[e.Subject] = x
				exports = append(exports, x)
			}
			x.to = append(x.to, acc)
		}
	}
	for _, x := range exports {
		var err error
		switch {
		case !x.Service:
			err = bridge.AddStreamExport(x.Subject, x.to)
		case x.Streamed:
			err = bridge.AddServiceExportWithResponse(x.Subject, server.Streamed, x.to)
		default:
			err = bridge.AddServiceExportWithResponse(x.Subject, server.Singleton, x.to)
		}
		if err != nil {
			return nil, fmt.Errorf("embedded nats: export %s: %w", x.Subject, err)
		}
	}
	for _, x := range exports {
		for _, acc := range x.to {
			var err error
			switch {
			case !x.Service:
				err = acc.AddStreamImport(bridge, x.Subject, "")
			case x.Subject == noJetStream:
				err = acc.AddServiceImport(bridge, "$JS.API.INFO", noJetStream)
			default:
				err = acc.AddServiceImport(bridge, x.Subject, x.Subject)
			}
			if err != nil {
				return nil, fmt.Errorf("embedded nats: %s imports %s: %w", acc.Name, x.Subject, err)
			}
		}
	}
	return a, nil
}

// limitedAccount returns a new account with the bot account limits
// ([BotMaxConnections], [BotMaxSubscriptions]). nats-server offers account
// limits outside JWT mode only through its configuration, so the account
// is parsed from a configuration of its own.
func limitedAccount(name string) (*server.Account, error) {
	var o server.Options
	conf := fmt.Sprintf("accounts { %q { limits { max_connections: %d, max_subscriptions: %d } } }",
		name, BotMaxConnections, BotMaxSubscriptions)
	if err := o.ProcessConfigString(conf); err != nil {
		return nil, fmt.Errorf("embedded nats: account %s: %w", name, err)
	}
	for _, acc := range o.Accounts {
		if acc.Name == name {
			return acc, nil
		}
	}
	return nil, fmt.Errorf("embedded nats: account %s: not in its configuration", name)
}
