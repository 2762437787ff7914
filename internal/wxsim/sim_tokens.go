package wxsim

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"time"
)

// Token rules (wechat-protocol.md §8.1, §8.2).
const (
	// tokenLifetime is the expires_in of a fresh token.
	tokenLifetime = 7200 * time.Second
	// classicDailyLimit is the /cgi-bin/token quota per app and day.
	classicDailyLimit = 2000
	// stableRotateBefore: a stable token this close to its expiry is
	// replaced by a new one on the next normal call.
	stableRotateBefore = 5 * time.Minute
	// forceInterval and forceDailyLimit limit force_refresh.
	forceInterval   = 30 * time.Second
	forceDailyLimit = 20
	// stableMinuteLimit and stableDailyLimit bound stable_token calls.
	stableMinuteLimit = 10_000
	stableDailyLimit  = 500_000
)

// tokenPrefix starts every issued token, as WeChat's start with a small
// number and "_".
const tokenPrefix = "86_"

// token is an issued access token.
type token struct {
	value   string
	appid   string
	expires time.Time
	// revoked is when a newer token made this one invalid (zero: never).
	revoked time.Time
}

// usable reports whether t is neither expired nor revoked at now.
func (t *token) usable(now time.Time) bool {
	return now.Before(t.expires) && (t.revoked.IsZero() || now.Before(t.revoked))
}

// tokenAnswer is the answer to a token fetch.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

func answerToken(t *token, now time.Time) reply {
	return reply{body: tokenAnswer{AccessToken: t.value, ExpiresIn: int64(t.expires.Sub(now) / time.Second)}}
}

// issue creates a token for app a. The caller holds the lock.
func (s *Sim) issue(a *appState, now time.Time) *token {
	b := make([]byte, 96)
	rand.Read(b)
	t := &token{value: tokenPrefix + base64.RawURLEncoding.EncodeToString(b), appid: a.id, expires: now.Add(tokenLifetime)}
	s.tokens[t.value] = t
	return t
}

// wellFormed reports whether v has the shape of the tokens WeChat (and the
// Sim) issues: a number, "_", then at least 96 characters of
// [A-Za-z0-9_-], at most 512 in all.
func wellFormed(v string) bool {
	if len(v) < 100 || len(v) > 512 {
		return false
	}
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(v) || v[i] != '_' {
		return false
	}
	for _, ch := range []byte(v[i+1:]) {
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '_', ch == '-':
		default:
			return false
		}
	}
	return true
}

// checkToken checks the access_token of an API call (§9): missing 41001,
// not of the issued shape 40014, unknown, superseded or revoked 40001,
// expired 42001. On success it sets c.app and c.token. The caller holds
// the lock.
func (s *Sim) checkToken(c *call) int {
	v := c.r.URL.Query().Get("access_token")
	if v == "" {
		return CodeTokenMissing
	}
	if !wellFormed(v) {
		return CodeInvalidToken
	}
	t := s.tokens[v]
	switch {
	case t == nil, !t.revoked.IsZero() && !c.now.Before(t.revoked):
		return CodeInvalidCredential
	case !c.now.Before(t.expires):
		return CodeTokenExpired
	}
	c.app, c.token = s.apps[t.appid], v
	return CodeOK
}

// credentials checks grant_type, appid and secret of a token fetch and
// returns the app.
func (s *Sim) credentials(grantType, appid, secret string) (*appState, int) {
	switch {
	case grantType != "client_credential":
		return nil, CodeInvalidGrantType
	case appid == "":
		return nil, CodeAppIDMissing
	}
	a := s.apps[appid]
	switch {
	case a == nil:
		return nil, CodeInvalidAppID
	case secret == "":
		return nil, CodeSecretMissing
	case secret != a.secret:
		return nil, CodeInvalidCredential
	}
	return a, CodeOK
}

// classicToken answers GET /cgi-bin/token (§8.1): every call issues a new
// token valid 7200 s; the previous one stays valid only TokenOverlap more;
// 2000 tokens per app and day.
func (s *Sim) classicToken(c *call) reply {
	q := c.r.URL.Query()
	a, code := s.credentials(q.Get("grant_type"), q.Get("appid"), q.Get("secret"))
	if code != CodeOK {
		return errReply(code)
	}
	if !a.classicDay.take(dayStart(c.now), classicDailyLimit) {
		return errReply(CodeDailyQuota)
	}
	if old := a.classic; old != nil {
		cut := c.now.Add(s.overlap)
		if old.revoked.IsZero() || cut.Before(old.revoked) {
			old.revoked = cut
		}
	}
	a.classic = s.issue(a, c.now)
	s.classicIssued++
	return answerToken(a.classic, c.now)
}

// stableRequest is the body of POST /cgi-bin/stable_token.
type stableRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

var stableShape = shape{"grant_type": nil, "appid": nil, "secret": nil, "force_refresh": nil}

// stableToken answers POST /cgi-bin/stable_token (§8.2). A normal call
// answers the current token, replacing it when it has less than 5 minutes
// left (the old one stays valid until its own expiry), so expires_in is
// always at least 300. force_refresh revokes every earlier stable token at
// once and issues a new one, unless the last forced refresh was less than
// 30 s ago (then it is a normal call); the 21st forced refresh of a day
// answers 45009. Stable and classic tokens never affect each other.
func (s *Sim) stableToken(c *call) reply {
	var req stableRequest
	if code := decodeStrict(c.body, stableShape, &req); code != CodeOK {
		return errReply(code)
	}
	a, code := s.credentials(req.GrantType, req.AppID, req.Secret)
	if code != CodeOK {
		return errReply(code)
	}
	day := dayStart(c.now)
	if a.stableDay.full(day, stableDailyLimit) {
		return errReply(CodeDailyQuota)
	}
	if !a.stableMinute.take(c.now.Truncate(time.Minute), stableMinuteLimit) {
		return errReply(CodeMinuteQuota)
	}
	a.stableDay.take(day, stableDailyLimit)

	a.stables = slices.DeleteFunc(a.stables, func(t *token) bool { return !t.usable(c.now) })
	force := req.ForceRefresh && (a.lastForce.IsZero() || c.now.Sub(a.lastForce) >= forceInterval)
	switch {
	case force:
		if !a.forceDay.take(day, forceDailyLimit) {
			return errReply(CodeDailyQuota)
		}
		for _, t := range a.stables {
			t.revoked = c.now
		}
		a.stables = nil
		a.lastForce = c.now
		s.forcedRefreshes++
	case a.stable != nil && a.stable.usable(c.now) && a.stable.expires.Sub(c.now) >= stableRotateBefore:
		return answerToken(a.stable, c.now)
	}
	a.stable = s.issue(a, c.now)
	a.stables = append(a.stables, a.stable)
	s.stableIssued++
	return answerToken(a.stable, c.now)
}
