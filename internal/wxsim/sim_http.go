package wxsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Body limits of the simulated API.
const (
	// maxJSONBody bounds a JSON request body; a longer one answers the
	// endpoint's tooLarge code.
	maxJSONBody = 1 << 20
	// maxUploadBody bounds an upload body; a longer one answers 45001.
	maxUploadBody = 16 << 20
)

// endpoint is one simulated API.
type endpoint struct {
	path   string
	method string // http.MethodGet or http.MethodPost
	// tokenAPI marks the token endpoints: no access_token, token faults.
	tokenAPI bool
	// limit bounds the body, tooLarge is the errcode beyond it.
	limit    int64
	tooLarge int
	handle   func(s *Sim, c *call) reply
}

// endpoints returns the simulated APIs by path.
func endpoints() map[string]*endpoint {
	list := []*endpoint{
		{path: "/cgi-bin/token", method: http.MethodGet, tokenAPI: true, handle: (*Sim).classicToken},
		{path: "/cgi-bin/stable_token", method: http.MethodPost, tokenAPI: true, limit: maxJSONBody, tooLarge: CodeDataFormat, handle: (*Sim).stableToken},
		{path: "/cgi-bin/message/custom/send", method: http.MethodPost, limit: maxJSONBody, tooLarge: CodeContentTooLong, handle: (*Sim).send},
		{path: "/cgi-bin/message/custom/business/send", method: http.MethodPost, limit: maxJSONBody, tooLarge: CodeContentTooLong, handle: (*Sim).businessSend},
		{path: "/cgi-bin/message/custom/business/typing", method: http.MethodPost, limit: maxJSONBody, tooLarge: CodeDataFormat, handle: (*Sim).typingCall},
		{path: "/cgi-bin/message/custom/typing", method: http.MethodPost, limit: maxJSONBody, tooLarge: CodeDataFormat, handle: (*Sim).typingCall},
		{path: "/cgi-bin/media/upload", method: http.MethodPost, limit: maxUploadBody, tooLarge: CodeMediaTooLarge, handle: (*Sim).upload},
		{path: "/cgi-bin/media/get", method: http.MethodGet, handle: (*Sim).getMedia},
		{path: "/cgi-bin/business/register", method: http.MethodPost, limit: maxJSONBody, tooLarge: CodeDataFormat, handle: (*Sim).registerBusiness},
		{path: "/cgi-bin/business/update", method: http.MethodPost, limit: maxJSONBody, tooLarge: CodeDataFormat, handle: (*Sim).updateBusiness},
		{path: "/cgi-bin/business/get", method: http.MethodPost, limit: maxJSONBody, tooLarge: CodeDataFormat, handle: (*Sim).getBusiness},
		{path: "/cgi-bin/business/list", method: http.MethodPost, limit: maxJSONBody, tooLarge: CodeDataFormat, handle: (*Sim).listBusinesses},
		{path: "/cgi-bin/customservice/getkflist", method: http.MethodGet, handle: (*Sim).kfList},
		{path: "/cgi-bin/customservice/getonlinekflist", method: http.MethodGet, handle: (*Sim).kfOnlineList},
		{path: "/customservice/kfaccount/add", method: http.MethodPost, limit: maxJSONBody, tooLarge: CodeDataFormat, handle: (*Sim).kfAdd},
		{path: "/customservice/kfaccount/del", method: http.MethodGet, handle: (*Sim).kfDel},
		{path: "/customservice/kfaccount/setadmin", method: http.MethodGet, handle: (*Sim).kfSetAdmin},
		{path: "/customservice/kfaccount/canceladmin", method: http.MethodGet, handle: (*Sim).kfCancelAdmin},
	}
	m := make(map[string]*endpoint, len(list))
	for _, e := range list {
		m[e.path] = e
	}
	return m
}

// endpointUnknown is the [CallStats] key of paths WeChat does not have.
const endpointUnknown = "unknown"

// call is one API call being answered.
type call struct {
	r        *http.Request
	body     []byte // read before taking the lock
	bodyCode int    // errcode of reading the body, 0 when read
	now      time.Time
	app      *appState // the token's app (not for token endpoints)
	token    string
}

// reply is the answer to an API call.
type reply struct {
	code   int    // errcode
	body   any    // success body; nil: {"errcode":0,"errmsg":"ok"}
	media  *media // media/get success: the bytes
	status int    // non-zero: an HTTP error status without JSON
}

// errReply answers errcode code.
func errReply(code int) reply { return reply{code: code} }

// statCode returns the [CallStats] key of r.
func (r reply) statCode() int {
	if r.status != 0 {
		return -r.status
	}
	return r.code
}

// Handler returns the simulated WeChat API (the /cgi-bin/ paths of
// wechat-protocol.md §0) and the /sim/ control endpoints. Any other path
// answers errcode 40066 "invalid url", as WeChat does for a path it does
// not have.
func (s *Sim) Handler() http.Handler {
	eps := endpoints()
	mux := http.NewServeMux()
	s.controlRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, eps[r.URL.Path]) })
	return mux
}

// serveAPI answers one API call: it reads the body, decides the answer
// under the lock, then waits the latency outside it and writes.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, ep *endpoint) {
	c := &call{r: r}
	if ep != nil && r.Method == ep.method && ep.limit > 0 {
		c.body, c.bodyCode = readBody(r.Body, ep.limit, ep.tooLarge)
	}
	s.mu.Lock()
	latency := s.faults.Latency
	name, rep := endpointUnknown, errReply(CodeInvalidURL)
	if ep != nil {
		name, rep = ep.path, s.dispatch(ep, c)
	}
	s.count(name, rep.statCode())
	s.mu.Unlock()
	s.logger.Debug("api call", "method", r.Method, "path", r.URL.Path, "errcode", rep.code, "status", rep.status)

	if latency > 0 && !s.waitLatency(r, name, latency) {
		return // the client is gone
	}
	writeReply(w, rep)
}

// waitLatency holds the answer to r for latency, listed in
// [CallStats].Answering meanwhile. It reports false, and lists the call in
// [CallStats].Abandoned, when the client hangs up first.
func (s *Sim) waitLatency(r *http.Request, path string, latency time.Duration) bool {
	c := &APICall{Path: path, Remote: r.RemoteAddr, Start: time.Now()}
	s.mu.Lock()
	s.answering[c] = struct{}{}
	s.mu.Unlock()
	t := time.NewTimer(latency)
	defer t.Stop()
	answered := true
	select {
	case <-t.C:
	case <-r.Context().Done():
		answered = false
	}
	s.mu.Lock()
	delete(s.answering, c)
	if !answered {
		s.abandoned = append(s.abandoned, *c)
	}
	s.mu.Unlock()
	return answered
}

// dispatch checks the method, injects faults, checks the access token and
// calls the endpoint. The caller holds the lock.
func (s *Sim) dispatch(ep *endpoint, c *call) reply {
	if c.r.Method != ep.method {
		if ep.method == http.MethodGet {
			return errReply(CodeRequireGET)
		}
		return errReply(CodeRequirePOST)
	}
	failRate, http5xxRate := s.faults.FailRate, s.faults.HTTP5xxRate
	if ep.tokenAPI {
		failRate, http5xxRate = s.faults.TokenFailRate, s.faults.TokenHTTP5xxRate
	}
	switch draw(s.rng, failRate, http5xxRate) {
	case faultHTTP502:
		return reply{status: http.StatusBadGateway}
	case faultSystemError:
		return errReply(CodeSystemError)
	}
	c.now = s.clock.now()
	if !ep.tokenAPI {
		if code := s.checkToken(c); code != CodeOK {
			return errReply(code)
		}
	}
	if c.bodyCode != CodeOK {
		return errReply(c.bodyCode)
	}
	return ep.handle(s, c)
}

// readBody reads at most limit bytes of body; beyond that it answers
// tooLarge, and a read error 47001.
func readBody(body io.Reader, limit int64, tooLarge int) ([]byte, int) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	switch {
	case err != nil:
		return nil, CodeDataFormat
	case int64(len(b)) > limit:
		return nil, tooLarge
	}
	return b, CodeOK
}

// writeReply writes rep as WeChat does: HTTP 200 with JSON, the media
// bytes for media/get, or a bare error status for an injected fault.
func writeReply(w http.ResponseWriter, rep reply) {
	h := w.Header()
	switch {
	case rep.status != 0:
		h.Set("Content-Type", "text/html")
		w.WriteHeader(rep.status)
		io.WriteString(w, "<html>\r\n<head><title>"+strconv.Itoa(rep.status)+" "+http.StatusText(rep.status)+"</title></head>\r\n</html>\r\n")
		return
	case rep.media != nil:
		m := rep.media
		h.Set("Content-Type", m.contentType)
		h.Set("Content-disposition", `attachment; filename="`+m.id+mediaExt(m.contentType)+`"`)
		h.Set("Content-Length", strconv.Itoa(len(m.data)))
		h.Set("Cache-Control", "no-cache, must-revalidate")
		w.Write(m.data)
		return
	}
	var b []byte
	var err error
	if rep.code == CodeOK && rep.body != nil {
		b, err = json.Marshal(rep.body)
	} else {
		b, err = json.Marshal(apiAnswer{ErrCode: rep.code, ErrMsg: errMsg(rep.code)})
	}
	if err != nil { // not reached: the answer types always encode
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "application/json; encoding=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// shape lists the allowed keys of a JSON object; a key's value is the
// shape of a nested object, or nil for any value.
type shape map[string]shape

// decodeStrict decodes the JSON object body into v as WeChat's strict
// parser would: only the keys of sh (exact names, at every level), one
// value, types matching v. It returns 44002 for an empty body and 47001 for
// anything else wrong.
func decodeStrict(body []byte, sh shape, v any) int {
	if len(body) == 0 {
		return CodeEmptyPostData
	}
	if !sh.check(body) {
		return CodeDataFormat
	}
	if err := json.Unmarshal(body, v); err != nil {
		return CodeDataFormat
	}
	return CodeOK
}

// check reports whether raw is a JSON object with only the keys of sh.
func (sh shape) check(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return false
	}
	for k, v := range m {
		sub, ok := sh[k]
		if !ok {
			return false
		}
		if sub != nil && string(v) != "null" && !sub.check(v) {
			return false
		}
	}
	return true
}

// parseBID parses a businessid: a JSON integer ≥ 0 or a string of digits.
// It returns the id in decimal and whether it was one.
func parseBID(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw) // a number, as written
	}
	if s == "" || len(s) > 19 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}
