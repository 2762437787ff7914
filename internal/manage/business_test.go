package manage

import (
	"fmt"
	"strings"
	"testing"
)

func TestBusinessRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	icon := e.icon()
	got := e.ok(OpBusinessRegister, map[string]any{"account_name": "apple_shop", "nickname": "苹果", "icon_media_id": icon, "transfer_to_commkf": true})
	if got["business_id"] != 1.0 || got["errcode"] != 0.0 || got["errmsg"] != "ok" {
		t.Errorf("register = %v", got)
	}
	e.ok(OpBusinessRegister, map[string]any{"account_name": "pear_shop", "nickname": "PearShop", "icon_media_id": icon})

	for _, req := range []map[string]any{{"business_id": 1}, {"account_name": "apple_shop"}} {
		info, _ := e.ok(OpBusinessGet, req)["business_info"].(map[string]any)
		if info["business_id"] != 1.0 || info["account_name"] != "apple_shop" || info["nickname"] != "苹果" || info["icon_url"] == "" {
			t.Errorf("get %v = %v", req, info)
		}
	}
	e.ok(OpBusinessUpdate, map[string]any{"business_id": 1, "nickname": "苹果小店"})
	e.ok(OpBusinessUpdate, map[string]any{"business_id": 2, "nickname": "", "icon_media_id": icon})
	if b := e.sim.Businesses(appID); b[0].Nickname != "苹果小店" || b[1].Nickname != "PearShop" {
		t.Errorf("after update: %+v", b)
	}

	page, _ := e.ok(OpBusinessList, map[string]any{"offset": 1, "count": 10})["list"].([]any)
	if len(page) != 1 || page[0].(map[string]any)["account_name"] != "pear_shop" {
		t.Errorf("list offset 1 = %v", page)
	}
	all, _ := e.ok(OpBusinessList, map[string]any{"all": true})["list"].([]any)
	if len(all) != 2 {
		t.Errorf("list all = %v", all)
	}
}

func TestBusinessErrors(t *testing.T) {
	e := newEnv(t, nil)
	icon := e.icon()
	e.sim.AddUserMedia(appID, "text-medium", []byte("not an image at all"), "text/plain")
	e.ok(OpBusinessRegister, map[string]any{"account_name": "taken_name", "nickname": "taken", "icon_media_id": icon})
	reg := func(name, nick, iconID string) map[string]any {
		return map[string]any{"account_name": name, "nickname": nick, "icon_media_id": iconID}
	}
	tests := []struct {
		name string
		op   string
		req  any
		want int
	}{
		{"account_name taken", OpBusinessRegister, reg("taken_name", "abcd", icon), 45070},
		{"banned nickname", OpBusinessRegister, reg("new_shop", "WeChatShop", icon), 45079},
		{"unknown icon", OpBusinessRegister, reg("new_shop", "abcd", "no-such-media"), 40007},
		{"icon not an image", OpBusinessRegister, reg("new_shop", "abcd", "text-medium"), 40004},
		{"update unknown id", OpBusinessUpdate, map[string]any{"business_id": 9}, 45071},
		{"update banned nickname", OpBusinessUpdate, map[string]any{"business_id": 1, "nickname": "微信小店"}, 45079},
		{"update bad icon", OpBusinessUpdate, map[string]any{"business_id": 1, "icon_media_id": "nope"}, 40007},
		{"get unknown id", OpBusinessGet, map[string]any{"business_id": 9}, 45071},
		{"get unknown name", OpBusinessGet, map[string]any{"account_name": "nobody_here"}, 45071},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			me := e.wantCode(tt.op, tt.req, tt.want)
			if !strings.Contains(me.Description, fmt.Sprint(tt.want)) || !strings.Contains(me.Description, tt.op) {
				t.Errorf("description %q names neither the op nor the errcode", me.Description)
			}
		})
	}
}

// TestBusinessLimit registers 500 sub-merchants through NATS; the 501st
// answers 45077, and list all pages through all of them.
func TestBusinessLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("500 registrations")
	}
	e := newEnv(t, nil)
	icon := e.icon()
	for i := range 500 {
		if _, err := e.client.Request(t.Context(), appID, OpBusinessRegister,
			map[string]any{"account_name": fmt.Sprintf("shop_%04d", i), "nickname": "shop", "icon_media_id": icon}); err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
	}
	e.wantCode(OpBusinessRegister, map[string]any{"account_name": "shop_0500", "nickname": "shop", "icon_media_id": icon}, 45077)
	before := e.sim.Calls().Total("/cgi-bin/business/list")
	all, _ := e.ok(OpBusinessList, map[string]any{"all": true})["list"].([]any)
	if len(all) != 500 {
		t.Fatalf("list all: %d sub-merchants, want 500", len(all))
	}
	if last := all[499].(map[string]any); last["business_id"] != 500.0 || last["account_name"] != "shop_0499" {
		t.Errorf("last = %v", last)
	}
	if n := e.sim.Calls().Total("/cgi-bin/business/list") - before; n != 3 {
		t.Errorf("list all made %d calls, want 3", n)
	}
	page, _ := e.ok(OpBusinessList, map[string]any{"offset": 400, "count": 200})["list"].([]any)
	if len(page) != 100 {
		t.Errorf("last page: %d, want 100", len(page))
	}
	if n := len(e.sim.Businesses(appID)); n != 500 {
		t.Errorf("sim has %d sub-merchants", n)
	}
}
