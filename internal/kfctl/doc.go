// Package kfctl is the operator command line of kfbridge (cmd/kfctl): it
// manages sub-merchants, customer-service accounts and media, and reads
// conversations' reply budgets, through the
// management service (internal/manage) over NATS, sends test messages,
// lists and replays the dead-letter stream, shows the state of the
// streams, their consumers and the access tokens — never a token itself —
// and prints the events on wxkf.in.> or the results on wxkf.result.> as
// they arrive (tail).
//
// # Usage
//
//	err := kfctl.Run(ctx, kfctl.Config{Args: os.Args[1:], Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv})
//
// The command line is a cobra command tree (NATS CLI and kubectl style):
// every command has its own help with examples, --help (-h, kfctl help
// <command>) only prints it — before any connection, whatever other flags
// are given — and --version and completion (bash, zsh, fish, powershell)
// come with it. Environment defaults (KFBRIDGE_NATS_URL, …) are applied
// after parsing, so the help never shows them.
//
// dlq list reads a page (--limit, 50) of dead letters, oldest first, with
// an ephemeral headers-only consumer filtered on the server by subject
// (--appid/--app, --bid, --openid) and start time (--newer-than); --reason,
// --errcode and --older-than are applied as it reads. Without those three
// it stops at the page and takes the count of the rest from the server;
// with them it reads on to count the matches it does not print. The "N
// more" hint goes to stderr, so stdout stays one JSON document.
//
// Output is a table for people — columns measured in terminal cells
// (go-runewidth: a Chinese character is two), control characters shown as
// spaces — or JSON with --json: the
// management service's reply as is, the result event of a send, a list of
// objects for dlq list and dlq replay, one object for status. tail prints
// one line per message — stream sequence, stored time, subject, then the
// event's id and what the user sent, or the result's command, verb,
// outcome and errcode — and with --json each message's body as is, one per
// line (JSON Lines).
//
// Replaying a dead letter (dlq replay) publishes the command's original
// body and headers — without the Nats-* and Kfbridge-* ones — on its
// Kfbridge-Original-Subject, with the command id <command id>:replay:<n>
// ([ReplayID]) as Nats-Msg-Id and, for a structured CloudEvent, as its
// id. The new id is needed: egress keeps a record of every finished
// command id and would answer the old id with its old result instead of
// sending it. Replaying the same dead letter twice gives the same id, so
// the second replay is dropped by the stream's duplicate window (or
// answered from egress's record) instead of reaching the user twice; a
// replay that fails again is dead-lettered under its replay id, and
// replaying that dead letter counts on to :replay:<n+1>.
//
// # Concurrency
//
// Run runs one command at a time, on its own NATS connection, closed when
// it returns (tail --events --results reads its two streams in two
// goroutines, printing from one); every NATS call is bounded by --timeout, and send waits for
// its result at most --wait. tail reads with one ordered consumer, so it
// prints in stream order, and runs until ctx ends (it then returns nil)
// or --limit messages are printed; the ordered consumer is ephemeral and
// recreated by nats.go after a reconnect, so nothing of it stays on the
// server.
//
// # Errors
//
// Run returns errors wrapping [ErrUsage] for command lines it cannot run
// (the usage is printed), [ErrFailed] for a send whose result is failed,
// an *manage.Error for a management request the service refused (with
// --json its error body is printed too), and the NATS errors otherwise.
package kfctl
