// Package token keeps WeChat access tokens in a NATS KV bucket that every
// egress replica shares, so replicas agree on one token per app.
//
// Two modes:
//
//   - stable (default): /cgi-bin/stable_token. A normal call returns the
//     current token without invalidating it, so any replica may fetch when
//     the shared one is missing or near expiry. After WeChat rejects a token
//     (40001, 40014, 41001, 42001), a forced refresh — which does invalidate
//     the old token — happens only when the token in KV is still the one that
//     failed (nobody refreshed yet), the last force was over 30 s ago (WeChat
//     ignores faster ones), and the day's forces are under the cap.
//   - classic: /cgi-bin/token. Every fetch invalidates the previous token
//     (after a short overlap), so exactly one replica fetches: it takes a
//     lease in the KV record with an optimistic-concurrency update on the
//     record's revision; the others wait for the new token to appear.
//
// # Usage
//
//	m, err := token.New(kv, api, apps, token.Config{Mode: token.ModeStable})
//	tok, err := m.Token(ctx, appid)
//	// WeChat answered 40001 for tok:
//	tok, err = m.Invalidate(ctx, appid, tok)
//
// # Concurrency
//
// A [Manager] is safe for concurrent use by many goroutines and processes;
// the KV record's revision serializes writers. Within a process, concurrent
// [Manager.Token] calls for one app share one lookup (and its failure), so
// commands waiting for a token never multiply calls of WeChat's token API.
// The shared lookup runs under its own bound (Config.LookupTimeout), not
// under the context of the caller that started it: each caller stops
// waiting when its own context ends, and the others still get the token.
//
// # Errors
//
// Errors from WeChat are the wxapi errors; [ErrUnknownApp] and
// [ErrLeaseTimeout] are this package's.
package token
