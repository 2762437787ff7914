// Package broker connects kfbridge processes to NATS: it runs the embedded
// NATS server with JetStream when no URL is configured (syncing writes to
// disk as nats.embedded.sync says, with the bot accounts of
// [BotPermissions]), connects with the configured credentials and TLS
// otherwise, and creates or updates the streams kfbridge needs, capped as
// nats.streams.max_bytes says ([ApplyLimits]).
//
// Every connection it opens uses the inbox prefix [BridgeInboxPrefix], which
// no bot may subscribe to; a bot uses [BotInboxPrefix] of its user.
//
// # Usage
//
//	b, err := broker.Open(ctx, cfg.NATS, broker.WithLogger(logger), broker.WithName("kfbridge-ingress"))
//	defer b.Close()
//	err = b.EnsureStreams(ctx, cfg.NATS.Streams)
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
