// Package wxsim is a fake of WeChat's server API as the bridge's egress
// calls it (internal/wxapi is that client), so that the bridge can be
// demonstrated, tested and measured without a real mini program: access
// tokens, customer-service send and typing, temporary media, sub-merchants
// and customer-service (kf) accounts. The other half of WeChat — the pushes
// it sends to the bridge — is internal/wxpush; command wxsim runs both.
//
// [Sim] answers from its state — the tokens it issued, the users whose
// pushes reached the bridge ([Sim.RecordInteraction]), the media it holds,
// the sub-merchants and kf accounts registered, the quotas used — on a
// simulated clock that tests move with [Sim.Advance]; nothing is scripted.
// [RunServe] (wxsim serve) serves it over HTTP, with control endpoints
// under /sim/ ([PathInteraction], [PathAdvance], [PathKFStatus], …).
//
// [Recorder] is the seam between the two halves: the push side (a
// wxpush.Pusher with wxpush.WithRecorder) reports every push to it, in
// process (a [*Sim]) or through a [RemoteRecorder] to a running `wxsim
// serve`, so that the send windows follow the pushes, as WeChat's do. The
// dependency goes one way: wxpush imports this package for [Recorder],
// [RemoteRecorder] and [PlaceholderImage]; this package knows nothing of
// pushes but the kind names of [Sim.RecordInteraction].
//
// Defaults are the demo app of internal/demo, so `wxsim serve` works with
// `kfbridge --demo` with no flags.
//
// # Usage
//
// The fake API in a test, called through the bridge's own client:
//
//	sim, err := wxsim.NewSim(wxsim.SimConfig{}) // the demo app, the real clock
//	srv := httptest.NewServer(sim.Handler())
//	api, err := wxapi.New(srv.URL)
//	sim.RecordInteraction(demo.AppID, "0", demo.OpenID, "text", time.Time{}) // the user wrote
//	tok, err := api.StableToken(ctx, demo.AppID, demo.Secret, false)
//	err = api.Send(ctx, tok.AccessToken, wxapi.SendRequest{ToUser: demo.OpenID, Message: msg})
//	got := sim.Delivered(demo.AppID) // what the user received
//	sim.Advance(48 * time.Hour)     // the window closes: the next send answers 45015
//
// From a shell: `wxsim serve` in one terminal; `wxsim push` tells the
// simulator at --sim (default [SimURL]) of every push, before sending it
// (WeChat knows of the message first); `curl -X POST
// '127.0.0.1:9100/sim/advance?d=72h'` moves its time.
//
// # The fake WeChat API
//
// What a [Sim] answers, by section of wechat-protocol.md (checks run in
// the order listed for each API; a call gets the code of the first that
// fails):
//
//	§     behaviour                                                      errcode
//	§0    every answer is HTTP 200 JSON, errmsg as WeChat words it plus  —
//	      " rid: …" — except injected 502s and media/get's bytes
//	§0    a path WeChat does not have (also /cgi-bin/business/typing)    40066 invalid url
//	§9    a GET API called with another method / a POST API              43001 / 43002
//	§9    FailRate / HTTP5xxRate (every API but tokens), TokenFailRate / -1 / HTTP 502
//	      TokenHTTP5xxRate (tokens): drawn first; the call has no effect
//	§9    body over its limit, read before the lock and answered right   45002 / 47001
//	      after the token check: 1 MiB for send (45002), typing and      / 45001
//	      stable_token (47001); 16 MiB for upload (45001)
//	§9    JSON body empty                                                44002
//	§9    JSON body not JSON, trailing data, a wrong type, or any key    47001
//	      not spelled exactly as WeChat's at any level (business_id,
//	      BusinessId, customservice, …)
//	§8.1  GET /cgi-bin/token: grant_type not client_credential           40002
//	§8.1  … appid missing / unknown; secret missing / wrong              41002 / 40013; 41004 / 40001
//	§8.1  … 2001st token of a Beijing day                                45009
//	§8.1  … each call issues a new 131-character token, expires_in       —
//	      7200; the previous one stays valid TokenOverlap (5 min) more
//	§8.2  POST /cgi-bin/stable_token: body, then credentials as §8.1     as above
//	§8.2  … over 500 000 calls a day / 10 000 a minute                   45009 / 45011
//	§8.2  … the same token while it has ≥ 5 min left; with less, a new   —
//	      one (the old one valid until its own expiry): expires_in ≥ 300
//	§8.2  … force_refresh: revokes every earlier stable token at once    —
//	      and issues a new one, unless the last forced refresh was less
//	      than 30 s ago (then a normal answer, nothing revoked)
//	§8.2  … the 21st effective force_refresh of a Beijing day            45009
//	§8.2  stable and classic tokens never affect each other              —
//	§9    any other API, access_token missing / not of the issued shape  41001 / 40014
//	      / unknown, superseded or revoked / past its expires_in         40001 / 42001
//	§7    send: DailyQuota calls a Beijing day / MinuteQuota a minute    45009 / 45011
//	      per app; every call with a valid token counts, failed or not
//	§7.3  /custom/business/send without businessid (or with 0)           40101
//	§7.3  businessid not an integer or digit string; businessid on       47001
//	      /custom/send
//	§7.2  msgtype not text, image, link or miniprogrampage               40008
//	§7.2  text: content missing or empty / over 2048 UTF-8 bytes         44004 / 45002
//	§7.2  image without media_id; link without title or url;             40101
//	      miniprogrampage without title, pagepath or thumb_media_id
//	      (its optional appid is accepted and ignored)
//	§7.2  link title over 256 bytes / description over 1024 bytes        45003 / 45004
//	§8.3  media_id / thumb_media_id unknown, of another app, 3 days old  40007
//	§7.2  touser empty, or no push from it ever reached this app         40003
//	§7.1  no open window for (appid, bid, openid) / its count used up    45015 / 45047
//	§7.1  a user message (any non-event kind): 5 sends in 48 h;          —
//	      user_enter_tempsession: 2 sends in 1 minute; each resets
//	§7.4  typing (/custom/business/typing, and /custom/typing, §11.2):   as send
//	      body, businessid (optional), touser
//	§7.4  … command not Typing or CancelTyping                           45072
//	§7.4  … window closed / no user message or enter-session in the      45015 / 45080
//	      last 30 s / Typing while typing (lasts 15 s)                   45081
//	§7.4  … CancelTyping, or an accepted send, ends the typing state     —
//	§8.3  POST /cgi-bin/media/upload: type not image / no "media" part,  40004 / 41005
//	      or an empty one / over 2 MB / not JPEG, PNG or GIF by content  40009 / 40005
//	§8.3  … {errcode 0, errmsg ok, type, media_id (64 characters),       —
//	      created_at}; the medium lives 3 days of simulated time
//	§8.4  GET /cgi-bin/media/get: media_id missing / unknown, of         41006 / 40007
//	      another app, or expired
//	§8.4  … success: the bytes with Content-Type and Content-disposition —
//	      attachment; filename="<media_id>.<ext>"
//	§7.3  POST /cgi-bin/business/register: account_name not 6–30 of     45091
//	      [A-Za-z0-9_]
//	§7.3  … nickname not 4–30 wide (a Chinese character counts 2) of     45078
//	      Chinese, English letters and digits / with a banned word       / 45079
//	§7.3  … icon_media_id empty / unknown, of another app, expired /     40101 / 40007
//	      not an image                                                   / 40004
//	§7.3  … account_name registered already (case-sensitive)             45070
//	§7.3  … the app has 500 sub-merchants already (the 501st)            45077
//	§7.3  … {"business_id": n}, ids 1, 2, … per app                      —
//	§7.3  POST /cgi-bin/business/update: business_id missing / not an    40101 / 47001
//	      integer / of no sub-merchant; then a non-empty nickname and    / 45071
//	      icon_media_id as register; empty ones leave the field as is
//	§7.3  POST /cgi-bin/business/get: neither business_id nor            40101 / 45071
//	      account_name / no such sub-merchant (by business_id when not
//	      0, else account_name; both given must name the same one)
//	§7.3  … {"business_info": {business_id, account_name, nickname,      —
//	      icon_url}}
//	§7.3  POST /cgi-bin/business/list: offset or count missing / offset  40101 / 40097
//	      < 0 or count outside 1…200
//	§7.3  … {"list": [...]} from offset by id; shorter than count: the   —
//	      last page
//	§9    kf APIs: business_id not an integer (query 40097, JSON body    40097 / 47001
//	      47001) / of no sub-merchant / of one registered without        / 45071 / 65400
//	      transfer_to_commkf; absent or 0 is the main account
//	§9    GET /cgi-bin/customservice/getkflist, getonlinekflist: the     —
//	      account's kf accounts {"kf_list": [...]} / those online
//	      ([Sim.SetKFStatus]) {"kf_online_list": [...]}
//	§9    POST /customservice/kfaccount/add: kf_wx missing / not a       40101 / 65409
//	      WeChat id (6–20 of [A-Za-z0-9_-], a letter first)
//	§9    … kf_wx a kf of this account / of another account of the app   65406 / 65407
//	§9    … the account has 100 kf accounts already                      65405
//	§9    GET /customservice/kfaccount/del, setadmin, canceladmin:       40101 / 40003
//	      kf_openid missing / not openid-shaped / of no kf account of    / 65401
//	      the account (setting or cancelling admin twice is accepted)
//	—     Latency: on every API answer, waited after the call took       —
//	      effect
//
// Decisions where the protocol leaves room:
//   - Send windows are kept per conversation (appid, bid, openid); bid "0"
//     is the main account. Counts never add up (§7.1): a message resets the
//     window to 48 h / 5 sends. An enter-session event resets it to
//     1 minute / 2 sends, except that it does not replace an open window
//     that has sends left and lasts at least that minute: a message's
//     48-hour window is kept with its remaining count, even when only one
//     send is left.
//   - Interactions name their kind as the push subjects and
//     wxpush.Spec.Kind do: a MsgType (a user message), user_enter_tempsession, or
//     "event:<Event>" for any other event. Other events open no window but
//     make the user known (no 40003).
//   - Typing needs a user interaction (message or enter-session) in the
//     last 30 s — the bridge's own sends do not count — and an open window,
//     not sends left in it. Typing is not counted against the send quota.
//   - Quotas count per Beijing calendar day (midnight UTC+8, when WeChat
//     resets them) and per calendar minute of the simulated clock.
//   - Injected faults have no effect; Latency is added after the effect, so
//     a client that gives up early may still have sent the message (the
//     bridge's maybe_delivered case).
//   - Management (§7.3 and the kf API pages): a kf_openid is derived
//     from the app and kf_wx, so adding the same WeChat id again gives the
//     same openid; kf_nick is the kf_wx; a kf is added at once, offline
//     (WeChat's invitation flow, 65408 / 65411, is not simulated), and
//     65402 / 65403 / 65404 cannot arise: the mini-program kf APIs take
//     no nickname or kf_account. A sub-merchant's kf accounts need
//     transfer_to_commkf (else 65400). The banned nickname words (45079)
//     are the Sim's: 微信, 腾讯, weixin, wechat. The 500 sub-merchants and
//     100 kf accounts per account are the documented limits. Sends to a
//     businessid that was never registered are still accepted (the send
//     checks above do not look at sub-merchants).
//   - The 2048-byte text limit, the link limits and the 16 MiB upload body
//     limit are the Sim's choices: WeChat documents none for mini programs
//     (§7.2, §11.14). 40066 for unknown paths and 41002 / 41004 / 41006
//     for missing parameters come from WeChat's global return codes.
//
// # Concurrency
//
// A [Sim] is safe for concurrent use: one mutex guards its state, and
// each API call takes effect atomically, in the order the calls take the
// lock; the latency is waited outside the lock, and cut short when the
// client goes away. [Recorder] implementations must be safe for
// concurrent use; [*Sim] and [*RemoteRecorder] are. [RunServe] owns its
// HTTP server: when ctx ends it stops taking calls and waits up to 5 s for
// those in flight. [RemoteRecorder] waits at most 2 s per report.
//
// # Errors
//
// Sentinels are in errors.go; match them with [errors.Is]. Bad
// configurations wrap [ErrInvalid] (Validate reports all problems at
// once). A [Sim] answers WeChat's errcodes (the Code… constants) over
// HTTP, never Go errors; [RemoteRecorder] logs a failed report (an answer
// that is not 200 wraps [ErrStatus]) at Debug level and goes on, so
// pushes work without a simulator.
package wxsim
