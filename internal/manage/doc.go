// Package manage is kfbridge's management service: a NATS micro service
// (github.com/nats-io/nats.go/micro) that runs in every egress process and
// lets a platform team, from any language, manage its sub-merchants
// (客服子商户), customer-service (kf) accounts and temporary media with a
// NATS request — without ever holding an access token. [Client] is the Go
// side of those requests; cmd/kfctl uses it.
//
// Requests go to wxkf.api.<appid>.<op>; the ops are
//
//	business.register business.update business.get business.list
//	kf.list kf.online kf.add kf.del kf.setadmin kf.canceladmin
//	media.upload media.get
//
// A request body mirrors WeChat's own request for the op (for the GET
// APIs, the query parameters as JSON members); schemas/api/ has a JSON
// Schema for every request and reply. Before anything reaches WeChat the
// service checks the app is configured and validates the body against its
// schema, plus the one rule JSON Schema cannot express (a nickname's width,
// a Chinese character counting 2). Then it calls WeChat with the app's
// access token from the shared [token.Manager] — on 40001 / 40014 / 41001 /
// 42001 it invalidates the token and retries once, as egress does — and
// answers WeChat's answer, errcode included (errcode 0 and errmsg ok are
// added when WeChat's answer has none). Two ops do more than pass on:
// business.list with {"all": true} pages through WeChat 200 at a time until
// a page comes back short, and media.get stores the downloaded bytes in the
// WXKF_MEDIA object store and answers the object's name; media.upload takes
// the image as base64 bytes, an http(s) URL or an object name. A URL is
// downloaded with [Config.Fetcher], the one the egress uses: only from public
// addresses unless egress.media_fetch.allow lists the destination (package
// mediafetch), and a failed download's errmsg quotes nothing of the answer.
//
// # Usage
//
//	// wx: the process's WeChat parts (internal/wechat), shared with the egress
//	svc, err := manage.New(manage.Config{Conn: nc, API: wx.API, Tokens: wx.Tokens, Store: wx.Media, Fetcher: wx.Fetcher, Apps: appids})
//	err = svc.Run(ctx) // serves until ctx ends
//
//	c := manage.NewClient(nc)
//	reply, err := c.Request(ctx, appid, manage.OpBusinessGet, map[string]any{"business_id": 1})
//	var e *manage.Error
//	if errors.As(err, &e) { … e.Code, e.Msg … } // WeChat's errcode, or kfbridge's negative one
//
// # Concurrency
//
// The service subscribes each op's subject with the queue group
// [QueueGroup], so every egress replica serves and each request is
// answered by one of them. Within a process each op handles one request at
// a time (its micro endpoint's subscription), the ops in parallel; a
// request takes at most [Config].RequestTimeout. WeChat calls are not cut
// short by shutdown: when Run's ctx ends it stops the service (the
// endpoints' subscriptions are drained), waits for the requests in hand to
// be answered, and returns. A [Service] and a [Client] are safe for
// concurrent use.
//
// # Errors
//
// A failed request is answered with micro's error headers —
// Nats-Service-Error, a message naming the op and what went wrong, and
// Nats-Service-Error-Code, the errcode — and the body
// {"errcode": …, "errmsg": …}. errcode is WeChat's when WeChat refused the
// request, else one of kfbridge's: [CodeInvalid] (refused before any
// call), [CodeUnknownApp], [CodeUnreachable] (-1: WeChat could not be
// reached, safe to retry), [CodeMaybeApplied], [CodeMedia], [CodeStore].
// [Client.Request] returns such a reply as an [*Error], and [ErrNoService]
// when no egress answers. [New] reports configuration errors.
package manage
