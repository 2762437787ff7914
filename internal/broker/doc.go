// Package broker connects kfbridge processes to NATS: it runs the embedded
// NATS server when no URL is configured (syncing writes to disk as
// nats.embedded.sync says), connects with the configured credentials and TLS
// otherwise, and creates or updates the streams kfbridge needs, capped as
// nats.streams.max_bytes says ([ApplyLimits]).
//
// # Accounts of the embedded server
//
// JetStream — every stream, KV bucket and the object store — lives in the
// account [BridgeAccount] with the bridge's own connection and the role
// bridge users. Each role bot user has an account of its own
// ([BotAccount]) without JetStream, which imports from the bridge account
// only what [BotImports] lists: commands and the management API as
// services, pushes and results as streams, and the info, pull and ack
// services of the consumers [Broker.EnsureBotConsumers] made for it. A
// service reply crosses the account boundary only through the server's
// mapping back to the requester, so whatever reply subject a bot sets, the
// bridge account never answers on a subject of its own (a push, a KV key,
// an inbox of the bridge). A bot account holds at most [BotMaxConnections]
// connections of at most [BotMaxSubscriptions] subscriptions each. Without
// configured users every client is the bridge (no authentication).
//
// Every connection the broker opens uses the inbox prefix
// [BridgeInboxPrefix], as defence in depth and for an external NATS that
// puts bots in the bridge's account.
//
// # Usage
//
//	b, err := broker.Open(ctx, cfg.NATS, broker.WithLogger(logger), broker.WithName("kfbridge-ingress"))
//	defer b.Close()
//	err = b.EnsureStreams(ctx, cfg.NATS.Streams)
//
// [Open] waits for an external NATS that is not up yet, until ctx ends,
// and says so: "waiting for nats at <url>" at once and every
// [WaitLogInterval], with the URL's credentials redacted ([RedactURL]).
//
// # Concurrency
//
// A [Broker] is safe for concurrent use. [Broker.Close] drains the connection
// (pending publishes and subscriptions finish) and then shuts the embedded
// server down, if any.
//
// # Errors
//
// Errors are wrapped with the failing operation; an embedded server that is
// not ready in time yields [ErrNotReady].
package broker
