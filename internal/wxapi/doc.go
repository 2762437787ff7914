// Package wxapi calls WeChat's server APIs that kfbridge uses: access
// tokens (stable_token and the classic token), customer-service send (main
// and sub-merchant paths), typing, temporary media upload and download, and
// the management APIs: sub-merchants (business/register, update, get, list,
// and [Client.ListAllBusinesses] paging to the end) and customer-service
// accounts (getkflist, getonlinekflist, kfaccount/add, del, setadmin,
// canceladmin). [Client.Call] calls any JSON API and returns WeChat's
// answer unchanged.
//
// Every call is bounded by the context and by the client's own timeout.
// WeChat answers HTTP 200 with a JSON body whose non-zero errcode signals
// failure; such answers become an [*APIError], whose [APIError.Class] says
// what to do about it (retry, refresh the token, pause for quota, give up).
// Transport failures become a [*TransportError] that records whether the
// request had been fully written: a send whose request was written but whose
// answer was lost may have been delivered, and must not be retried blindly.
//
// # Usage
//
//	c := wxapi.New("https://api.weixin.qq.com")
//	tok, err := c.StableToken(ctx, appid, secret, false)
//	err = c.Send(ctx, tok.AccessToken, wxapi.SendRequest{ToUser: openid, BusinessID: bid, Body: data})
//
// # Concurrency
//
// A [Client] is safe for concurrent use.
//
// # Errors
//
// See [APIError], [TransportError] and [Classify].
package wxapi
