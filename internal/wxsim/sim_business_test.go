package wxsim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// icon uploads the placeholder image and returns its media id.
func (ts *testSim) icon(tb testing.TB, tok string) string {
	tb.Helper()
	m, err := ts.client.UploadImage(tb.Context(), tok, "icon.png", "image/png", PlaceholderImage())
	if err != nil {
		tb.Fatalf("UploadImage: %v", err)
	}
	return m.MediaID
}

func TestValidNickname(t *testing.T) {
	tests := []struct {
		nick string
		want bool
	}{
		{"abcd", true},
		{"abc", false},
		{"苹果", true},  // width 4
		{"苹", false},  // width 2
		{"苹a", false}, // width 3
		{"苹ab", true}, // width 4
		{strings.Repeat("a", 30), true},
		{strings.Repeat("a", 31), false},
		{strings.Repeat("苹", 15), true},
		{strings.Repeat("苹", 15) + "a", false},
		{"ab cd", false},
		{"ab_cd", false},
		{"abcd!", false},
		{"ＡＢＣＤ", false}, // fullwidth letters are neither English nor Chinese
		{"abc😀", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := validNickname(tt.nick); got != tt.want {
			t.Errorf("validNickname(%q) = %v, want %v", tt.nick, got, tt.want)
		}
	}
}

func TestRegisterAndGet(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	tok := ts.token(t)
	icon := ts.icon(t, tok)
	ctx := t.Context()
	yes := true
	id, err := ts.client.RegisterBusiness(ctx, tok, wxapi.RegisterBusinessRequest{AccountName: "apple_shop", Nickname: "苹果shop", IconMediaID: icon, TransferToCommKF: &yes})
	if err != nil || id != 1 {
		t.Fatalf("RegisterBusiness = %d, %v, want 1, nil", id, err)
	}
	id2, err := ts.client.RegisterBusiness(ctx, tok, wxapi.RegisterBusinessRequest{AccountName: "Apple_shop", Nickname: "pear", IconMediaID: icon})
	if err != nil || id2 != 2 {
		t.Fatalf("RegisterBusiness(case differs) = %d, %v, want 2, nil", id2, err)
	}
	for _, r := range []wxapi.GetBusinessRequest{{BusinessID: 1}, {AccountName: "apple_shop"}, {BusinessID: 1, AccountName: "apple_shop"}} {
		b, err := ts.client.GetBusiness(ctx, tok, r)
		if err != nil {
			t.Fatalf("GetBusiness(%+v) = %v", r, err)
		}
		if b.BusinessID != 1 || b.AccountName != "apple_shop" || b.Nickname != "苹果shop" || b.IconURL == "" {
			t.Errorf("GetBusiness(%+v) = %+v", r, b)
		}
	}
	// The icon outlives its 3-day medium.
	ts.Advance(4 * 24 * time.Hour)
	tok = ts.token(t)
	if err := ts.client.UpdateBusiness(ctx, tok, wxapi.UpdateBusinessRequest{BusinessID: 1, Nickname: "apple"}); err != nil {
		t.Fatalf("UpdateBusiness = %v", err)
	}
	b, err := ts.client.GetBusiness(ctx, tok, wxapi.GetBusinessRequest{BusinessID: 1})
	if err != nil || b.Nickname != "apple" || b.IconURL == "" {
		t.Errorf("after update: %+v, %v", b, err)
	}
	if got := ts.Businesses(demo.AppID); len(got) != 2 || !got[0].TransferToCommKF || got[1].TransferToCommKF {
		t.Errorf("Businesses = %+v", got)
	}
}

func TestBusinessErrors(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	ts.AddUserMedia(demo.AppID, "old-image", PlaceholderImage(), "")
	ts.Advance(72 * time.Hour) // old-image and icon expire
	ts.AddUserMedia(demo.AppID, "not-an-image", []byte("plain text, no image"), "text/plain")
	tok := ts.token(t)
	icon := ts.icon(t, tok)
	if code := ts.rawCode(t, http.MethodPost, "/cgi-bin/business/register?access_token="+tok,
		fmt.Sprintf(`{"account_name":"taken_name","nickname":"taken","icon_media_id":%q}`, icon)); code != 0 {
		t.Fatalf("register taken_name = %d", code)
	}
	reg := func(name, nick, iconID string) string {
		return fmt.Sprintf(`{"account_name":%q,"nickname":%q,"icon_media_id":%q}`, name, nick, iconID)
	}
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"register empty body", "register", ``, CodeEmptyPostData},
		{"register not JSON", "register", `{`, CodeDataFormat},
		{"register unknown field", "register", `{"account_name":"abcdef","nickname":"abcd","icon_media_id":"x","BusinessId":1}`, CodeDataFormat},
		{"register short account_name", "register", reg("abcde", "abcd", icon), CodeBadAccountName},
		{"register long account_name", "register", reg(strings.Repeat("a", 31), "abcd", icon), CodeBadAccountName},
		{"register account_name with dash", "register", reg("abc-def", "abcd", icon), CodeBadAccountName},
		{"register short nickname", "register", reg("abcdef", "苹a", icon), CodeBadNickname},
		{"register nickname with space", "register", reg("abcdef", "ab cd", icon), CodeBadNickname},
		{"register banned nickname", "register", reg("abcdef", "WeChatShop", icon), CodeNicknameBanned},
		{"register banned Chinese nickname", "register", reg("abcdef", "微信小店", icon), CodeNicknameBanned},
		{"register no icon", "register", reg("abcdef", "abcd", ""), CodeMissingParameter},
		{"register unknown icon", "register", reg("abcdef", "abcd", "nope"), CodeInvalidMediaID},
		{"register expired icon", "register", reg("abcdef", "abcd", "old-image"), CodeInvalidMediaID},
		{"register icon not an image", "register", reg("abcdef", "abcd", "not-an-image"), CodeInvalidMediaType},
		{"register taken", "register", reg("taken_name", "abcd", icon), CodeBusinessExists},
		{"update no id", "update", `{"nickname":"abcd"}`, CodeMissingParameter},
		{"update id not a number", "update", `{"business_id":"x1"}`, CodeDataFormat},
		{"update unknown id", "update", `{"business_id":99}`, CodeNoSuchBusiness},
		{"update bad nickname", "update", `{"business_id":1,"nickname":"a"}`, CodeBadNickname},
		{"update banned nickname", "update", `{"business_id":1,"nickname":"weixin1"}`, CodeNicknameBanned},
		{"update bad icon", "update", `{"business_id":1,"icon_media_id":"nope"}`, CodeInvalidMediaID},
		{"update nothing", "update", `{"business_id":1,"nickname":"","icon_media_id":""}`, CodeOK},
		{"get neither", "get", `{}`, CodeMissingParameter},
		{"get unknown id", "get", `{"business_id":2}`, CodeNoSuchBusiness},
		{"get unknown name", "get", `{"account_name":"nobody"}`, CodeNoSuchBusiness},
		{"get disagreeing", "get", `{"business_id":1,"account_name":"nobody"}`, CodeNoSuchBusiness},
		{"get id as string", "get", `{"business_id":"1"}`, CodeOK},
		{"list no count", "list", `{"offset":0}`, CodeMissingParameter},
		{"list no offset", "list", `{"count":10}`, CodeMissingParameter},
		{"list count 0", "list", `{"offset":0,"count":0}`, CodeInvalidArgs},
		{"list count 201", "list", `{"offset":0,"count":201}`, CodeInvalidArgs},
		{"list offset -1", "list", `{"offset":-1,"count":10}`, CodeInvalidArgs},
		{"list count not integer", "list", `{"offset":0,"count":1.5}`, CodeDataFormat},
		{"list offset past the end", "list", `{"offset":10,"count":10}`, CodeOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ts.rawCode(t, http.MethodPost, "/cgi-bin/business/"+tt.path+"?access_token="+tok, tt.body); got != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.path, tt.body, got, tt.want)
			}
		})
	}
	if got := ts.rawCode(t, http.MethodGet, "/cgi-bin/business/list?access_token="+tok, ""); got != CodeRequirePOST {
		t.Errorf("GET business/list = %d, want %d", got, CodeRequirePOST)
	}
	if got := ts.rawCode(t, http.MethodPost, "/cgi-bin/business/get", `{"business_id":1}`); got != CodeTokenMissing {
		t.Errorf("business/get without token = %d, want %d", got, CodeTokenMissing)
	}
}

func TestBusinessLimitAndList(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	tok := ts.token(t)
	icon := ts.icon(t, tok)
	ctx := t.Context()
	for i := range maxBusinesses {
		if _, err := ts.client.RegisterBusiness(ctx, tok, wxapi.RegisterBusinessRequest{
			AccountName: fmt.Sprintf("shop_%04d", i), Nickname: "shop", IconMediaID: icon}); err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
	}
	_, err := ts.client.RegisterBusiness(ctx, tok, wxapi.RegisterBusinessRequest{AccountName: "shop_0500", Nickname: "shop", IconMediaID: icon})
	if got := codeOf(t, err); got != CodeBusinessLimit {
		t.Errorf("501st register = %d, want %d", got, CodeBusinessLimit)
	}
	page, err := ts.client.ListBusinesses(ctx, tok, wxapi.ListBusinessesRequest{Offset: 490, Count: 200})
	if err != nil || len(page) != 10 || page[0].BusinessID != 491 || page[9].AccountName != "shop_0499" {
		t.Errorf("last page = %d items, %v", len(page), err)
	}
	before := ts.Calls().Total("/cgi-bin/business/list")
	all, err := ts.client.ListAllBusinesses(ctx, tok)
	if err != nil || len(all) != maxBusinesses {
		t.Fatalf("ListAllBusinesses = %d, %v", len(all), err)
	}
	for i, b := range all {
		if b.BusinessID != int64(i+1) {
			t.Fatalf("all[%d].BusinessID = %d", i, b.BusinessID)
		}
	}
	if calls := ts.Calls().Total("/cgi-bin/business/list") - before; calls != 3 {
		t.Errorf("ListAllBusinesses made %d calls, want 3 (200, 200, 100)", calls)
	}
}
