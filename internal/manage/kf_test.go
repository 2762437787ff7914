package manage

import (
	"fmt"
	"testing"

	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// kfEnv is an env with sub-merchant 1 (transfer_to_commkf) and 2 (not).
func kfEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, nil)
	icon := e.icon()
	e.ok(OpBusinessRegister, map[string]any{"account_name": "shop_one", "nickname": "shop1", "icon_media_id": icon, "transfer_to_commkf": true})
	e.ok(OpBusinessRegister, map[string]any{"account_name": "shop_two", "nickname": "shop2", "icon_media_id": icon})
	return e
}

func TestKFRoundTrip(t *testing.T) {
	e := kfEnv(t)
	e.ok(OpKFAdd, map[string]any{"kf_wx": "agent_one"})
	e.ok(OpKFAdd, map[string]any{"kf_wx": "agent_two", "business_id": 0})
	e.ok(OpKFAdd, map[string]any{"kf_wx": "agent_sub", "business_id": 1})

	list, _ := e.ok(OpKFList, nil)["kf_list"].([]any)
	if len(list) != 2 {
		t.Fatalf("kf.list = %v", list)
	}
	first := list[0].(map[string]any)
	openid, _ := first["kf_openid"].(string)
	if first["kf_wx"] != "agent_one" || first["kf_id"] != "1001" || openid == "" {
		t.Errorf("kf.list[0] = %v", first)
	}
	sub, _ := e.ok(OpKFList, map[string]any{"business_id": 1})["kf_list"].([]any)
	if len(sub) != 1 || sub[0].(map[string]any)["kf_wx"] != "agent_sub" {
		t.Errorf("kf.list business 1 = %v", sub)
	}

	if online, _ := e.ok(OpKFOnline, map[string]any{})["kf_online_list"].([]any); len(online) != 0 {
		t.Errorf("kf.online before login = %v", online)
	}
	if err := e.sim.SetKFStatus(appID, 0, openid, wxsim.KFWebOnline); err != nil {
		t.Fatal(err)
	}
	online, _ := e.ok(OpKFOnline, map[string]any{})["kf_online_list"].([]any)
	if len(online) != 1 || online[0].(map[string]any)["kf_openid"] != openid || online[0].(map[string]any)["status"] != 1.0 {
		t.Errorf("kf.online = %v", online)
	}

	e.ok(OpKFSetAdmin, map[string]any{"kf_openid": openid})
	if k := e.sim.KFAccounts(appID, 0); !k[0].Admin {
		t.Errorf("after setadmin: %+v", k)
	}
	e.ok(OpKFCancelAdmin, map[string]any{"kf_openid": openid})
	if k := e.sim.KFAccounts(appID, 0); k[0].Admin {
		t.Errorf("after canceladmin: %+v", k)
	}
	e.ok(OpKFDel, map[string]any{"kf_openid": openid})
	if k := e.sim.KFAccounts(appID, 0); len(k) != 1 || k[0].KFWX != "agent_two" {
		t.Errorf("after del: %+v", k)
	}
}

func TestKFErrors(t *testing.T) {
	e := kfEnv(t)
	e.ok(OpKFAdd, map[string]any{"kf_wx": "agent_main"})
	mainOpenID := e.sim.KFAccounts(appID, 0)[0].KFOpenID
	tests := []struct {
		name string
		op   string
		req  map[string]any
		want int
	}{
		{"list unknown business", OpKFList, map[string]any{"business_id": 9}, 45071},
		{"list business without transfer", OpKFList, map[string]any{"business_id": 2}, 65400},
		{"online unknown business", OpKFOnline, map[string]any{"business_id": 9}, 45071},
		{"online business without transfer", OpKFOnline, map[string]any{"business_id": 2}, 65400},
		{"add not a WeChat id", OpKFAdd, map[string]any{"kf_wx": "1agent"}, 65409},
		{"add existing", OpKFAdd, map[string]any{"kf_wx": "agent_main"}, 65406},
		{"add kf of another account", OpKFAdd, map[string]any{"kf_wx": "agent_main", "business_id": 1}, 65407},
		{"add unknown business", OpKFAdd, map[string]any{"kf_wx": "agent_x", "business_id": 9}, 45071},
		{"add business without transfer", OpKFAdd, map[string]any{"kf_wx": "agent_x", "business_id": 2}, 65400},
		{"del unknown kf", OpKFDel, map[string]any{"kf_openid": "oNobody"}, 65401},
		{"del not an openid", OpKFDel, map[string]any{"kf_openid": "a.b c"}, 40003},
		{"del kf of another account", OpKFDel, map[string]any{"kf_openid": mainOpenID, "business_id": 1}, 65401},
		{"setadmin unknown kf", OpKFSetAdmin, map[string]any{"kf_openid": "oNobody"}, 65401},
		{"setadmin business without transfer", OpKFSetAdmin, map[string]any{"kf_openid": mainOpenID, "business_id": 2}, 65400},
		{"canceladmin unknown kf", OpKFCancelAdmin, map[string]any{"kf_openid": "oNobody"}, 65401},
		{"canceladmin unknown business", OpKFCancelAdmin, map[string]any{"kf_openid": mainOpenID, "business_id": 9}, 45071},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { e.wantCode(tt.op, tt.req, tt.want) })
	}
}

func TestKFLimit(t *testing.T) {
	e := kfEnv(t)
	for i := range 100 {
		if _, err := e.client.Request(t.Context(), appID, OpKFAdd, map[string]any{"kf_wx": fmt.Sprintf("agent%03d", i), "business_id": 1}); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	e.wantCode(OpKFAdd, map[string]any{"kf_wx": "agent_101", "business_id": 1}, 65405)
}
