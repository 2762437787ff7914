package wxsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sub-merchant rules (wechat-protocol.md §7.3 and the business API pages).
const (
	// maxBusinesses is how many sub-merchants an app may register.
	maxBusinesses = 500
	// maxBusinessPage is the largest count of business/list.
	maxBusinessPage = 200
)

// bannedNicknameWords make a sub-merchant nickname answer 45079. WeChat
// keeps its list secret; these are the Sim's (compared case-insensitively).
var bannedNicknameWords = []string{"微信", "腾讯", "weixin", "wechat"}

// mgmtState is an app's sub-merchants and customer-service accounts. It is
// guarded by the Sim's mutex.
type mgmtState struct {
	businesses []*business // by id, ascending
	byName     map[string]*business
	lastBID    int64
	// kfs lists the kf accounts of each account (0: the main account) in
	// the order they were added.
	kfs      map[int64][]*kfAccount
	lastKFID int
}

func newMgmtState() *mgmtState {
	return &mgmtState{byName: map[string]*business{}, kfs: map[int64][]*kfAccount{}}
}

// business is a registered sub-merchant.
type business struct {
	id                    int64
	accountName, nickname string
	iconMediaID, iconURL  string
	transfer              bool // transfer_to_commkf: kf APIs work with its business_id
	created               time.Time
}

// find returns the sub-merchant with id, or nil.
func (m *mgmtState) find(id int64) *business {
	i, ok := slices.BinarySearchFunc(m.businesses, id, func(b *business, id int64) int {
		switch {
		case b.id < id:
			return -1
		case b.id > id:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return m.businesses[i]
}

// Business is a registered sub-merchant, as [Sim.Businesses] reports it.
type Business struct {
	BusinessID  int64  `json:"business_id"`
	AccountName string `json:"account_name"`
	Nickname    string `json:"nickname"`
	IconMediaID string `json:"icon_media_id"`
	IconURL     string `json:"icon_url"`
	// TransferToCommKF is the register call's transfer_to_commkf: the kf
	// account APIs accept this business_id only when it is true.
	TransferToCommKF bool      `json:"transfer_to_commkf"`
	Created          time.Time `json:"created"`
}

// Businesses returns the sub-merchants app appid registered, by id.
func (s *Sim) Businesses(appid string) []Business {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	if !ok {
		return nil
	}
	out := make([]Business, 0, len(a.mgmt.businesses))
	for _, b := range a.mgmt.businesses {
		out = append(out, Business{b.id, b.accountName, b.nickname, b.iconMediaID, b.iconURL, b.transfer, b.created})
	}
	return out
}

// businessInfo is a sub-merchant as business/get and /list answer it.
type businessInfo struct {
	BusinessID  int64  `json:"business_id"`
	AccountName string `json:"account_name"`
	Nickname    string `json:"nickname"`
	IconURL     string `json:"icon_url"`
}

func (b *business) info() businessInfo {
	return businessInfo{b.id, b.accountName, b.nickname, b.iconURL}
}

// validAccountName reports whether name follows WeChat's account_name
// rule: 6 to 30 characters, each an English letter, a digit or "_".
func validAccountName(name string) bool {
	if len(name) < 6 || len(name) > 30 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// isChinese reports whether r is a Chinese character: CJK Unified
// Ideographs, Extension A and the compatibility ideographs.
func isChinese(r rune) bool {
	return 0x3400 <= r && r <= 0x4DBF || 0x4E00 <= r && r <= 0x9FFF || 0xF900 <= r && r <= 0xFAFF
}

// validNickname reports whether nick follows WeChat's sub-merchant
// nickname rule: Chinese characters, English letters and digits only, 4 to
// 30 characters long with a Chinese character counted as 2.
func validNickname(nick string) bool {
	width := 0
	for _, r := range nick {
		switch {
		case r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'):
			width++
		case isChinese(r):
			width += 2
		default:
			return false
		}
	}
	return width >= 4 && width <= 30
}

// nicknameCode returns 45078 for a nickname that breaks the rules, 45079
// for one with a banned word, else 0.
func nicknameCode(nick string) int {
	if !validNickname(nick) {
		return CodeBadNickname
	}
	lower := strings.ToLower(nick)
	for _, w := range bannedNicknameWords {
		if strings.Contains(lower, w) {
			return CodeNicknameBanned
		}
	}
	return CodeOK
}

// iconCode returns 0 when id is an image medium of a, valid at now, else
// 40007 (unknown, of another app, expired) or 40004 (not an image).
func (a *appState) iconCode(id string, now time.Time) int {
	if code := a.mediaCode(id, now); code != CodeOK {
		return code
	}
	if !strings.HasPrefix(a.media[id].contentType, "image/") {
		return CodeInvalidMediaType
	}
	return CodeOK
}

// iconURL is where the Sim pretends WeChat keeps a sub-merchant's icon
// (copied at register or update, so it outlives the 3-day medium).
func iconURL(appid string, bid int64, now time.Time) string {
	return fmt.Sprintf("http://mmbiz.qpic.cn/wxsim/%s/%d/%d/0", appid, bid, now.UnixNano())
}

// registerRequest is the body of business/register.
type registerRequest struct {
	AccountName      string `json:"account_name"`
	Nickname         string `json:"nickname"`
	IconMediaID      string `json:"icon_media_id"`
	TransferToCommKF bool   `json:"transfer_to_commkf"`
}

var registerShape = shape{"account_name": nil, "nickname": nil, "icon_media_id": nil, "transfer_to_commkf": nil}

// registerAnswer is the answer of business/register, as WeChat's example
// shows it (no errcode).
type registerAnswer struct {
	BusinessID int64 `json:"business_id"`
}

// registerBusiness answers POST /cgi-bin/business/register, checking in
// this order: body (44002, 47001), account_name (45091), nickname (45078,
// 45079), icon_media_id (40101 empty, 40007, 40004), account_name taken
// (45070), 500 sub-merchants already (45077). Ids count from 1 per app.
func (s *Sim) registerBusiness(c *call) reply {
	a := c.app
	var req registerRequest
	if code := decodeStrict(c.body, registerShape, &req); code != CodeOK {
		return errReply(code)
	}
	if !validAccountName(req.AccountName) {
		return errReply(CodeBadAccountName)
	}
	if code := nicknameCode(req.Nickname); code != CodeOK {
		return errReply(code)
	}
	if req.IconMediaID == "" {
		return errReply(CodeMissingParameter)
	}
	if code := a.iconCode(req.IconMediaID, c.now); code != CodeOK {
		return errReply(code)
	}
	m := a.mgmt
	if m.byName[req.AccountName] != nil {
		return errReply(CodeBusinessExists)
	}
	if len(m.businesses) >= maxBusinesses {
		return errReply(CodeBusinessLimit)
	}
	m.lastBID++
	b := &business{
		id: m.lastBID, accountName: req.AccountName, nickname: req.Nickname,
		iconMediaID: req.IconMediaID, iconURL: iconURL(a.id, m.lastBID, c.now),
		transfer: req.TransferToCommKF, created: c.now,
	}
	m.businesses = append(m.businesses, b)
	m.byName[b.accountName] = b
	return reply{body: registerAnswer{BusinessID: b.id}}
}

// updateRequest is the body of business/update.
type updateRequest struct {
	BusinessID  json.RawMessage `json:"business_id"`
	Nickname    string          `json:"nickname"`
	IconMediaID string          `json:"icon_media_id"`
}

var updateShape = shape{"business_id": nil, "nickname": nil, "icon_media_id": nil}

// updateBusiness answers POST /cgi-bin/business/update, checking in this
// order: body (44002, 47001), business_id missing (40101), not an integer
// (47001), unknown (45071), a non-empty nickname (45078, 45079), a
// non-empty icon_media_id (40007, 40004). Empty fields stay unchanged.
func (s *Sim) updateBusiness(c *call) reply {
	a := c.app
	var req updateRequest
	if code := decodeStrict(c.body, updateShape, &req); code != CodeOK {
		return errReply(code)
	}
	b, code := a.mgmt.business(req.BusinessID)
	if code != CodeOK {
		return errReply(code)
	}
	if req.Nickname != "" {
		if code := nicknameCode(req.Nickname); code != CodeOK {
			return errReply(code)
		}
	}
	if req.IconMediaID != "" {
		if code := a.iconCode(req.IconMediaID, c.now); code != CodeOK {
			return errReply(code)
		}
	}
	if req.Nickname != "" {
		b.nickname = req.Nickname
	}
	if req.IconMediaID != "" {
		b.iconMediaID, b.iconURL = req.IconMediaID, iconURL(a.id, b.id, c.now)
	}
	return reply{}
}

// business resolves a required business_id of a JSON body: 40101 when
// missing, 47001 when not an integer, 45071 when no sub-merchant has it.
func (m *mgmtState) business(raw json.RawMessage) (*business, int) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, CodeMissingParameter
	}
	id, ok := parseBusinessID(raw)
	if !ok {
		return nil, CodeDataFormat
	}
	b := m.find(id)
	if b == nil {
		return nil, CodeNoSuchBusiness
	}
	return b, CodeOK
}

// parseBusinessID parses a business_id: a JSON integer or digit string.
func parseBusinessID(raw json.RawMessage) (int64, bool) {
	s, ok := parseBID(raw)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil
}

// getRequest is the body of business/get.
type getRequest struct {
	BusinessID  json.RawMessage `json:"business_id"`
	AccountName string          `json:"account_name"`
}

var getShape = shape{"business_id": nil, "account_name": nil}

// getAnswer is the answer of business/get, as WeChat's example shows it.
type getAnswer struct {
	BusinessInfo businessInfo `json:"business_info"`
}

// getBusiness answers POST /cgi-bin/business/get: by business_id when it
// is given and not 0, else by account_name. Body 44002 / 47001; neither
// given 40101; business_id not an integer 47001; no such sub-merchant, or
// both given and naming different ones, 45071.
func (s *Sim) getBusiness(c *call) reply {
	m := c.app.mgmt
	var req getRequest
	if code := decodeStrict(c.body, getShape, &req); code != CodeOK {
		return errReply(code)
	}
	var id int64
	if len(req.BusinessID) > 0 && string(req.BusinessID) != "null" {
		var ok bool
		if id, ok = parseBusinessID(req.BusinessID); !ok {
			return errReply(CodeDataFormat)
		}
	}
	var b *business
	switch {
	case id != 0:
		b = m.find(id)
		if b != nil && req.AccountName != "" && req.AccountName != b.accountName {
			b = nil
		}
	case req.AccountName != "":
		b = m.byName[req.AccountName]
	default:
		return errReply(CodeMissingParameter)
	}
	if b == nil {
		return errReply(CodeNoSuchBusiness)
	}
	return reply{body: getAnswer{BusinessInfo: b.info()}}
}

// listRequest is the body of business/list.
type listRequest struct {
	Offset *int `json:"offset"`
	Count  *int `json:"count"`
}

var listShape = shape{"offset": nil, "count": nil}

// listAnswer is the answer of business/list, as WeChat's example shows it.
type listAnswer struct {
	List []businessInfo `json:"list"`
}

// listBusinesses answers POST /cgi-bin/business/list: up to count
// sub-merchants from offset, by id. Body 44002 / 47001; offset or count
// missing 40101; offset < 0 or count outside 1…200 40097. A page shorter
// than count is the last.
func (s *Sim) listBusinesses(c *call) reply {
	m := c.app.mgmt
	var req listRequest
	if code := decodeStrict(c.body, listShape, &req); code != CodeOK {
		return errReply(code)
	}
	switch {
	case req.Offset == nil || req.Count == nil:
		return errReply(CodeMissingParameter)
	case *req.Offset < 0 || *req.Count < 1 || *req.Count > maxBusinessPage:
		return errReply(CodeInvalidArgs)
	}
	ans := listAnswer{List: []businessInfo{}}
	for i := *req.Offset; i < len(m.businesses) && len(ans.List) < *req.Count; i++ {
		ans.List = append(ans.List, m.businesses[i].info())
	}
	return reply{body: ans}
}
