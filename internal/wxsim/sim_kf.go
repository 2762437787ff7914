package wxsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// Customer-service account rules (the kf management API pages).
const (
	// maxKFAccounts is how many kf accounts one account (the main account
	// or a sub-merchant) may have: "no more than 100 customer service
	// staff".
	maxKFAccounts = 100
	// firstKFID is the kf_id of an app's first kf account.
	firstKFID = 1001
)

// KF statuses of [Sim.SetKFStatus] (getonlinekflist's status).
const (
	KFOffline   = 0
	KFWebOnline = 1
)

// kfAccount is a customer-service account.
type kfAccount struct {
	id         int
	wx, openid string
	admin      bool
	status     int
}

// KFAccount is a customer-service account, as [Sim.KFAccounts] reports it.
type KFAccount struct {
	// BusinessID is the sub-merchant it serves, 0 for the main account.
	BusinessID int64  `json:"business_id"`
	KFID       string `json:"kf_id"`
	KFWX       string `json:"kf_wx"`
	KFOpenID   string `json:"kf_openid"`
	// Admin is set by setadmin and cleared by canceladmin.
	Admin bool `json:"admin"`
	// Status is [KFOffline] or [KFWebOnline].
	Status int `json:"status"`
}

// KFAccounts returns the kf accounts of app appid's account businessID (0:
// the main account), in the order they were added.
func (s *Sim) KFAccounts(appid string, businessID int64) []KFAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	if !ok {
		return nil
	}
	var out []KFAccount
	for _, k := range a.mgmt.kfs[businessID] {
		out = append(out, KFAccount{businessID, strconv.Itoa(k.id), k.wx, k.openid, k.admin, k.status})
	}
	return out
}

// SetKFStatus sets the online status of a kf account, as the agent's
// logging in to (status [KFWebOnline]) or out of ([KFOffline]) WeChat's
// web customer-service tool would. Errors wrap [ErrInvalid].
func (s *Sim) SetKFStatus(appid string, businessID int64, kfOpenID string, status int) error {
	if status != KFOffline && status != KFWebOnline {
		return fmt.Errorf("%w: kf status %d: want %d or %d", ErrInvalid, status, KFOffline, KFWebOnline)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	if !ok {
		return fmt.Errorf("%w: appid %q is not simulated", ErrInvalid, appid)
	}
	k := a.mgmt.kf(businessID, kfOpenID)
	if k == nil {
		return fmt.Errorf("%w: no kf account %q in account %d of %s", ErrInvalid, kfOpenID, businessID, appid)
	}
	k.status = status
	return nil
}

// kf returns the kf account openid of account bid, or nil.
func (m *mgmtState) kf(bid int64, openid string) *kfAccount {
	for _, k := range m.kfs[bid] {
		if k.openid == openid {
			return k
		}
	}
	return nil
}

// kfOpenID returns the openid a kf with WeChat id wx has in app appid:
// stable, 28 characters like a user's.
func kfOpenID(appid, wx string) string {
	sum := sha256.Sum256([]byte(appid + "/kf/" + wx))
	return "o" + base64.RawURLEncoding.EncodeToString(sum[:])[:27]
}

// validWeChatID reports whether id looks like a WeChat id: 6 to 20
// characters, a letter first, then letters, digits, "_" and "-".
func validWeChatID(id string) bool {
	if len(id) < 6 || len(id) > 20 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if i == 0 && !letter || !letter && !('0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validOpenIDShape reports whether id could be an openid: 1 to 64
// characters of [A-Za-z0-9_-].
func validOpenIDShape(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// kfAccountOf resolves the account a kf API call addresses: the main
// account (0) without business_id or with 0, else a sub-merchant that
// exists (45071) and was registered with transfer_to_commkf (65400).
func (m *mgmtState) kfAccountOf(bid int64) int {
	if bid == 0 {
		return CodeOK
	}
	b := m.find(bid)
	switch {
	case b == nil:
		return CodeNoSuchBusiness
	case !b.transfer:
		return CodeKFUnavailable
	}
	return CodeOK
}

// queryBID reads the optional business_id query parameter: 0 when absent,
// 40097 when not an integer.
func queryBID(r *http.Request) (int64, int) {
	v := r.URL.Query().Get("business_id")
	if v == "" {
		return 0, CodeOK
	}
	id, ok := parseBusinessID(json.RawMessage(strconv.Quote(v)))
	if !ok {
		return 0, CodeInvalidArgs
	}
	return id, CodeOK
}

// kfListItem is one entry of getkflist's answer.
type kfListItem struct {
	KFAccount    string `json:"kf_account"`
	KFHeadImgURL string `json:"kf_headimgurl"`
	KFID         string `json:"kf_id"`
	KFNick       string `json:"kf_nick"`
	KFWX         string `json:"kf_wx"`
	KFOpenID     string `json:"kf_openid"`
}

type kfListAnswer struct {
	KFList []kfListItem `json:"kf_list"`
}

// kfList answers GET /cgi-bin/customservice/getkflist?business_id=: the
// account's kf accounts in the order added (business_id not an integer
// 40097, unknown 45071, without transfer_to_commkf 65400). The Sim's
// nickname of a kf is its WeChat id; it has no kf_account (a web-tool
// login of official accounts).
func (s *Sim) kfList(c *call) reply {
	m := c.app.mgmt
	bid, code := m.queryKFAccount(c)
	if code != CodeOK {
		return errReply(code)
	}
	ans := kfListAnswer{KFList: []kfListItem{}}
	for _, k := range m.kfs[bid] {
		ans.KFList = append(ans.KFList, kfListItem{
			KFHeadImgURL: "http://mmbiz.qpic.cn/wxsim/kf/" + k.openid + "/0",
			KFID:         strconv.Itoa(k.id), KFNick: k.wx, KFWX: k.wx, KFOpenID: k.openid,
		})
	}
	return reply{body: ans}
}

// kfOnlineItem is one entry of getonlinekflist's answer.
type kfOnlineItem struct {
	KFAccount string `json:"kf_account"`
	Status    int    `json:"status"`
	KFID      string `json:"kf_id"`
	KFOpenID  string `json:"kf_openid"`
}

type kfOnlineAnswer struct {
	KFOnlineList []kfOnlineItem `json:"kf_online_list"`
}

// kfOnlineList answers GET /cgi-bin/customservice/getonlinekflist: the
// account's kf accounts that are online ([Sim.SetKFStatus]); errors as
// getkflist.
func (s *Sim) kfOnlineList(c *call) reply {
	m := c.app.mgmt
	bid, code := m.queryKFAccount(c)
	if code != CodeOK {
		return errReply(code)
	}
	ans := kfOnlineAnswer{KFOnlineList: []kfOnlineItem{}}
	for _, k := range m.kfs[bid] {
		if k.status != KFOffline {
			ans.KFOnlineList = append(ans.KFOnlineList, kfOnlineItem{Status: k.status, KFID: strconv.Itoa(k.id), KFOpenID: k.openid})
		}
	}
	return reply{body: ans}
}

// kfAddRequest is the body of kfaccount/add.
type kfAddRequest struct {
	KFWX       string          `json:"kf_wx"`
	BusinessID json.RawMessage `json:"business_id"`
}

var kfAddShape = shape{"kf_wx": nil, "business_id": nil}

// kfAdd answers POST /customservice/kfaccount/add, checking in this order:
// body (44002, 47001), kf_wx missing (40101) or not a WeChat id (65409),
// business_id not an integer (47001), unknown (45071), without
// transfer_to_commkf (65400), kf_wx a kf of this account already (65406)
// or of another account of the app (65407), 100 kf accounts already
// (65405). The kf is added at once, offline, with the next kf_id.
func (s *Sim) kfAdd(c *call) reply {
	m := c.app.mgmt
	var req kfAddRequest
	if code := decodeStrict(c.body, kfAddShape, &req); code != CodeOK {
		return errReply(code)
	}
	switch {
	case req.KFWX == "":
		return errReply(CodeMissingParameter)
	case !validWeChatID(req.KFWX):
		return errReply(CodeInvalidKFWX)
	}
	var bid int64
	if len(req.BusinessID) > 0 && string(req.BusinessID) != "null" {
		var ok bool
		if bid, ok = parseBusinessID(req.BusinessID); !ok {
			return errReply(CodeDataFormat)
		}
	}
	if code := m.kfAccountOf(bid); code != CodeOK {
		return errReply(code)
	}
	openid := kfOpenID(c.app.id, req.KFWX)
	if m.kf(bid, openid) != nil {
		return errReply(CodeKFExists)
	}
	for other := range m.kfs {
		if other != bid && m.kf(other, openid) != nil {
			return errReply(CodeKFOfThisApp)
		}
	}
	if len(m.kfs[bid]) >= maxKFAccounts {
		return errReply(CodeKFLimit)
	}
	if m.lastKFID == 0 {
		m.lastKFID = firstKFID - 1
	}
	m.lastKFID++
	m.kfs[bid] = append(m.kfs[bid], &kfAccount{id: m.lastKFID, wx: req.KFWX, openid: openid})
	return reply{}
}

// kfAccountCall resolves the kf account of a del / setadmin / canceladmin
// call: kf_openid missing (40101), not an openid (40003), business_id not
// an integer (40097), unknown (45071), without transfer_to_commkf (65400),
// no kf account of the account (65401).
func (s *Sim) kfAccountCall(c *call) (int64, *kfAccount, int) {
	m := c.app.mgmt
	openid := c.r.URL.Query().Get("kf_openid")
	switch {
	case openid == "":
		return 0, nil, CodeMissingParameter
	case !validOpenIDShape(openid):
		return 0, nil, CodeInvalidOpenID
	}
	bid, code := queryBID(c.r)
	if code == CodeOK {
		code = m.kfAccountOf(bid)
	}
	if code != CodeOK {
		return 0, nil, code
	}
	k := m.kf(bid, openid)
	if k == nil {
		return 0, nil, CodeInvalidKF
	}
	return bid, k, CodeOK
}

// kfDel answers GET /customservice/kfaccount/del (errors as
// kfAccountCall's).
func (s *Sim) kfDel(c *call) reply {
	bid, k, code := s.kfAccountCall(c)
	if code != CodeOK {
		return errReply(code)
	}
	m := c.app.mgmt
	m.kfs[bid] = slices.DeleteFunc(m.kfs[bid], func(x *kfAccount) bool { return x == k })
	return reply{}
}

// kfSetAdmin answers GET /customservice/kfaccount/setadmin; setting an
// admin again is accepted.
func (s *Sim) kfSetAdmin(c *call) reply { return s.kfAdmin(c, true) }

// kfCancelAdmin answers GET /customservice/kfaccount/canceladmin;
// cancelling a kf that is no admin is accepted.
func (s *Sim) kfCancelAdmin(c *call) reply { return s.kfAdmin(c, false) }

func (s *Sim) kfAdmin(c *call, admin bool) reply {
	_, k, code := s.kfAccountCall(c)
	if code != CodeOK {
		return errReply(code)
	}
	k.admin = admin
	return reply{}
}

// PathKFStatus is the control endpoint of [Sim.SetKFStatus]: POST
// {"appid","business_id","kf_openid","status"} (business_id default 0,
// status 0 offline or 1 online).
const PathKFStatus = "/sim/kf/status"

// kfStatusRequest is the body of [PathKFStatus].
type kfStatusRequest struct {
	AppID      string `json:"appid"`
	BusinessID int64  `json:"business_id"`
	KFOpenID   string `json:"kf_openid"`
	Status     int    `json:"status"`
}

func (s *Sim) postKFStatus(w http.ResponseWriter, r *http.Request) {
	var req kfStatusRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.SetKFStatus(req.AppID, req.BusinessID, req.KFOpenID, req.Status); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// queryKFAccount reads business_id from the query and checks that its
// account has kf accounts (errors as getkflist documents them).
func (m *mgmtState) queryKFAccount(c *call) (int64, int) {
	bid, code := queryBID(c.r)
	if code == CodeOK {
		code = m.kfAccountOf(bid)
	}
	return bid, code
}
