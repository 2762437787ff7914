package wxsim

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// kfWorld is a Sim with sub-merchant 1 (transfer_to_commkf) and 2 (not).
func kfWorld(t *testing.T) (*testSim, string) {
	t.Helper()
	ts := newTestSim(t, SimConfig{})
	tok := ts.token(t)
	icon := ts.icon(t, tok)
	yes := true
	for _, r := range []wxapi.RegisterBusinessRequest{
		{AccountName: "shop_one", Nickname: "shop1", IconMediaID: icon, TransferToCommKF: &yes},
		{AccountName: "shop_two", Nickname: "shop2", IconMediaID: icon},
	} {
		if _, err := ts.client.RegisterBusiness(t.Context(), tok, r); err != nil {
			t.Fatal(err)
		}
	}
	return ts, tok
}

func TestKFAccounts(t *testing.T) {
	ts, tok := kfWorld(t)
	ctx := t.Context()
	for _, a := range []wxapi.AddKFRequest{{KFWX: "agent_one"}, {KFWX: "agent_two"}, {KFWX: "agent_three", BusinessID: 1}} {
		if err := ts.client.AddKF(ctx, tok, a); err != nil {
			t.Fatalf("AddKF(%+v) = %v", a, err)
		}
	}
	list, err := ts.client.KFList(ctx, tok, 0)
	if err != nil || len(list) != 2 {
		t.Fatalf("KFList(0) = %+v, %v", list, err)
	}
	if list[0].KFID != "1001" || list[0].KFWX != "agent_one" || list[0].KFNick != "agent_one" || len(list[0].KFOpenID) != 28 || list[1].KFID != "1002" {
		t.Errorf("KFList(0) = %+v", list)
	}
	if got := kfOpenID(demo.AppID, "agent_one"); list[0].KFOpenID != got {
		t.Errorf("kf_openid = %q, want %q", list[0].KFOpenID, got)
	}
	sub, err := ts.client.KFList(ctx, tok, 1)
	if err != nil || len(sub) != 1 || sub[0].KFID != "1003" {
		t.Errorf("KFList(1) = %+v, %v", sub, err)
	}
	online, err := ts.client.OnlineKFList(ctx, tok, 0)
	if err != nil || len(online) != 0 {
		t.Errorf("OnlineKFList before login = %+v, %v", online, err)
	}
	if err := ts.SetKFStatus(demo.AppID, 0, list[1].KFOpenID, KFWebOnline); err != nil {
		t.Fatal(err)
	}
	online, err = ts.client.OnlineKFList(ctx, tok, 0)
	if err != nil || len(online) != 1 || online[0].KFOpenID != list[1].KFOpenID || online[0].Status != KFWebOnline || online[0].KFID != "1002" {
		t.Errorf("OnlineKFList = %+v, %v", online, err)
	}
	if err := ts.client.SetKFAdmin(ctx, tok, 0, list[0].KFOpenID); err != nil {
		t.Fatal(err)
	}
	if err := ts.client.SetKFAdmin(ctx, tok, 0, list[0].KFOpenID); err != nil {
		t.Errorf("SetKFAdmin twice = %v", err)
	}
	if got := ts.KFAccounts(demo.AppID, 0); !got[0].Admin || got[1].Admin || got[1].Status != KFWebOnline {
		t.Errorf("KFAccounts = %+v", got)
	}
	if err := ts.client.CancelKFAdmin(ctx, tok, 0, list[0].KFOpenID); err != nil {
		t.Fatal(err)
	}
	if got := ts.KFAccounts(demo.AppID, 0); got[0].Admin {
		t.Errorf("after canceladmin: %+v", got)
	}
	if err := ts.client.DelKF(ctx, tok, 0, list[0].KFOpenID); err != nil {
		t.Fatal(err)
	}
	if got := ts.KFAccounts(demo.AppID, 0); len(got) != 1 || got[0].KFWX != "agent_two" {
		t.Errorf("after del: %+v", got)
	}
	// Deleted, the WeChat id may be added again, with the same openid.
	if err := ts.client.AddKF(ctx, tok, wxapi.AddKFRequest{KFWX: "agent_one"}); err != nil {
		t.Errorf("re-add = %v", err)
	}
	if err := ts.SetKFStatus(demo.AppID, 0, "nobody", KFWebOnline); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetKFStatus(unknown) = %v, want ErrInvalid", err)
	}
}

func TestKFErrors(t *testing.T) {
	ts, tok := kfWorld(t)
	ctx := t.Context()
	if err := ts.client.AddKF(ctx, tok, wxapi.AddKFRequest{KFWX: "agent_main"}); err != nil {
		t.Fatal(err)
	}
	mainOpenID := kfOpenID(demo.AppID, "agent_main")
	q := "?access_token=" + tok
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"list bid not integer", "GET", "/cgi-bin/customservice/getkflist" + q + "&business_id=x", "", CodeInvalidArgs},
		{"list unknown bid", "GET", "/cgi-bin/customservice/getkflist" + q + "&business_id=9", "", CodeNoSuchBusiness},
		{"list bid without transfer", "GET", "/cgi-bin/customservice/getkflist" + q + "&business_id=2", "", CodeKFUnavailable},
		{"list bid 0", "GET", "/cgi-bin/customservice/getkflist" + q + "&business_id=0", "", CodeOK},
		{"online unknown bid", "GET", "/cgi-bin/customservice/getonlinekflist" + q + "&business_id=9", "", CodeNoSuchBusiness},
		{"online bid without transfer", "GET", "/cgi-bin/customservice/getonlinekflist" + q + "&business_id=2", "", CodeKFUnavailable},
		{"add empty body", "POST", "/customservice/kfaccount/add" + q, ``, CodeEmptyPostData},
		{"add no kf_wx", "POST", "/customservice/kfaccount/add" + q, `{"business_id":1}`, CodeMissingParameter},
		{"add bad kf_wx", "POST", "/customservice/kfaccount/add" + q, `{"kf_wx":"1agent"}`, CodeInvalidKFWX},
		{"add short kf_wx", "POST", "/customservice/kfaccount/add" + q, `{"kf_wx":"ag"}`, CodeInvalidKFWX},
		{"add bid not integer", "POST", "/customservice/kfaccount/add" + q, `{"kf_wx":"agent_x","business_id":"one"}`, CodeDataFormat},
		{"add unknown bid", "POST", "/customservice/kfaccount/add" + q, `{"kf_wx":"agent_x","business_id":9}`, CodeNoSuchBusiness},
		{"add bid without transfer", "POST", "/customservice/kfaccount/add" + q, `{"kf_wx":"agent_x","business_id":2}`, CodeKFUnavailable},
		{"add existing", "POST", "/customservice/kfaccount/add" + q, `{"kf_wx":"agent_main"}`, CodeKFExists},
		{"add kf of another account", "POST", "/customservice/kfaccount/add" + q, `{"kf_wx":"agent_main","business_id":1}`, CodeKFOfThisApp},
		{"add unknown field", "POST", "/customservice/kfaccount/add" + q, `{"kf_wx":"agent_x","nickname":"x"}`, CodeDataFormat},
		{"del no kf_openid", "GET", "/customservice/kfaccount/del" + q, "", CodeMissingParameter},
		{"del bad kf_openid", "GET", "/customservice/kfaccount/del" + q + "&kf_openid=a.b", "", CodeInvalidOpenID},
		{"del unknown kf", "GET", "/customservice/kfaccount/del" + q + "&kf_openid=oNobody", "", CodeInvalidKF},
		{"del kf of another account", "GET", "/customservice/kfaccount/del" + q + "&kf_openid=" + mainOpenID + "&business_id=1", "", CodeInvalidKF},
		{"del unknown bid", "GET", "/customservice/kfaccount/del" + q + "&kf_openid=" + mainOpenID + "&business_id=9", "", CodeNoSuchBusiness},
		{"setadmin unknown kf", "GET", "/customservice/kfaccount/setadmin" + q + "&kf_openid=oNobody", "", CodeInvalidKF},
		{"setadmin bid without transfer", "GET", "/customservice/kfaccount/setadmin" + q + "&kf_openid=" + mainOpenID + "&business_id=2", "", CodeKFUnavailable},
		{"canceladmin unknown kf", "GET", "/customservice/kfaccount/canceladmin" + q + "&kf_openid=oNobody", "", CodeInvalidKF},
		{"canceladmin not admin", "GET", "/customservice/kfaccount/canceladmin" + q + "&kf_openid=" + mainOpenID, "", CodeOK},
		{"del with POST", "POST", "/customservice/kfaccount/del" + q + "&kf_openid=" + mainOpenID, "", CodeRequireGET},
		{"add with GET", "GET", "/customservice/kfaccount/add" + q, "", CodeRequirePOST},
		{"cgi-bin kfaccount path", "GET", "/cgi-bin/customservice/kfaccount/del" + q + "&kf_openid=" + mainOpenID, "", CodeInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ts.rawCode(t, tt.method, tt.path, tt.body); got != tt.want {
				t.Errorf("%s %s %s = %d, want %d", tt.method, tt.path, tt.body, got, tt.want)
			}
		})
	}
}

func TestKFLimit(t *testing.T) {
	ts, tok := kfWorld(t)
	for i := range maxKFAccounts {
		if err := ts.client.AddKF(t.Context(), tok, wxapi.AddKFRequest{KFWX: fmt.Sprintf("agent%03d", i), BusinessID: 1}); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	err := ts.client.AddKF(t.Context(), tok, wxapi.AddKFRequest{KFWX: "agent_101", BusinessID: 1})
	if got := codeOf(t, err); got != CodeKFLimit {
		t.Errorf("101st add = %d, want %d", got, CodeKFLimit)
	}
	// The limit is per account: the main account still has room.
	if err := ts.client.AddKF(t.Context(), tok, wxapi.AddKFRequest{KFWX: "agent_101"}); err != nil {
		t.Errorf("add to the main account = %v", err)
	}
}

func TestKFStatusControl(t *testing.T) {
	ts, tok := kfWorld(t)
	if err := ts.client.AddKF(t.Context(), tok, wxapi.AddKFRequest{KFWX: "agent_main"}); err != nil {
		t.Fatal(err)
	}
	openid := kfOpenID(demo.AppID, "agent_main")
	body := fmt.Sprintf(`{"appid":%q,"kf_openid":%q,"status":1}`, demo.AppID, openid)
	if status, _, b := ts.raw(t, http.MethodPost, PathKFStatus, "application/json", []byte(body)); status != http.StatusOK {
		t.Fatalf("POST %s = %d %s", PathKFStatus, status, b)
	}
	if got := ts.KFAccounts(demo.AppID, 0); got[0].Status != KFWebOnline {
		t.Errorf("status = %d", got[0].Status)
	}
	bad := fmt.Sprintf(`{"appid":%q,"kf_openid":"nobody","status":1}`, demo.AppID)
	if status, _, _ := ts.raw(t, http.MethodPost, PathKFStatus, "application/json", []byte(bad)); status != http.StatusBadRequest {
		t.Errorf("unknown kf: HTTP %d, want 400", status)
	}
}
