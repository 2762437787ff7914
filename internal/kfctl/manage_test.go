package kfctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

func TestBusinessCommands(t *testing.T) {
	w := newWorld(t)
	icon := w.file("icon.png", wxsim.PlaceholderImage())

	out := w.ok("business", "register", "--appid", appID, "--account-name", "apple_shop", "--nickname", "苹果", "--icon-file", icon, "--transfer-to-commkf")
	if !strings.Contains(out, "BUSINESS_ID") || !strings.Contains(out, "1") {
		t.Errorf("register printed %q", out)
	}
	var up struct {
		MediaID string `json:"media_id"`
	}
	w.okJSON(&up, "media", "upload", "--appid", appID, "--file", icon)
	var reg struct {
		ErrCode    int   `json:"errcode"`
		BusinessID int64 `json:"business_id"`
	}
	w.okJSON(&reg, "business", "register", "--appid", appID, "--account-name", "pear_shop", "--nickname", "PearShop", "--icon-media-id", up.MediaID)
	if reg.ErrCode != 0 || reg.BusinessID != 2 {
		t.Errorf("register --json = %+v", reg)
	}
	if b := w.sim.Businesses(appID); len(b) != 2 || !b[0].TransferToCommKF || b[1].TransferToCommKF {
		t.Errorf("sim businesses = %+v", b)
	}

	out = w.ok("business", "get", "--appid", appID, "--bid", "1")
	for _, want := range []string{"BUSINESS_ID", "ACCOUNT_NAME", "NICKNAME", "ICON_URL", "apple_shop", "苹果"} {
		if !strings.Contains(out, want) {
			t.Errorf("get --bid 1 printed %q, want %q", out, want)
		}
	}
	if out := w.ok("business", "get", "--appid", appID, "--account-name", "pear_shop"); !strings.Contains(out, "PearShop") {
		t.Errorf("get --account-name printed %q", out)
	}
	w.ok("business", "update", "--appid", appID, "--bid", "1", "--nickname", "苹果小店")
	w.ok("business", "update", "--appid", appID, "--bid", "2", "--icon-file", icon)
	out = w.ok("business", "list", "--appid", appID)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.Contains(out, "苹果小店") {
		t.Errorf("list printed %q", out)
	}
	var page struct {
		List []struct {
			AccountName string `json:"account_name"`
		} `json:"list"`
	}
	w.okJSON(&page, "business", "list", "--appid", appID, "--offset", "1", "--count", "1")
	if len(page.List) != 1 || page.List[0].AccountName != "pear_shop" {
		t.Errorf("list page = %+v", page)
	}
}

func TestKFCommands(t *testing.T) {
	w := newWorld(t)
	icon := w.file("icon.png", wxsim.PlaceholderImage())
	w.ok("business", "register", "--appid", appID, "--account-name", "shop_one", "--nickname", "shop1", "--icon-file", icon, "--transfer-to-commkf")

	w.ok("kf", "add", "--appid", appID, "--kf-wx", "agent_one")
	w.ok("kf", "add", "--appid", appID, "--kf-wx", "agent_sub", "--bid", "1")
	out := w.ok("kf", "list", "--appid", appID)
	kfs := w.sim.KFAccounts(appID, 0)
	if len(kfs) != 1 || !strings.Contains(out, "agent_one") || !strings.Contains(out, kfs[0].KFOpenID) || !strings.Contains(out, "KF_OPENID") {
		t.Fatalf("kf list printed %q", out)
	}
	openid := kfs[0].KFOpenID
	if out := w.ok("kf", "list", "--appid", appID, "--bid", "1"); !strings.Contains(out, "agent_sub") || strings.Contains(out, "agent_one") {
		t.Errorf("kf list --bid 1 printed %q", out)
	}
	if out := w.ok("kf", "online", "--appid", appID); strings.Contains(out, openid) {
		t.Errorf("kf online before login printed %q", out)
	}
	if err := w.sim.SetKFStatus(appID, 0, openid, wxsim.KFWebOnline); err != nil {
		t.Fatal(err)
	}
	if out := w.ok("kf", "online", "--appid", appID); !strings.Contains(out, openid) || !strings.Contains(out, "web online") {
		t.Errorf("kf online printed %q", out)
	}
	w.ok("kf", "setadmin", "--appid", appID, "--kf-openid", openid)
	if !w.sim.KFAccounts(appID, 0)[0].Admin {
		t.Error("setadmin did not take")
	}
	w.ok("kf", "canceladmin", "--appid", appID, "--kf-openid", openid)
	if w.sim.KFAccounts(appID, 0)[0].Admin {
		t.Error("canceladmin did not take")
	}
	w.ok("kf", "del", "--appid", appID, "--kf-openid", openid)
	if n := len(w.sim.KFAccounts(appID, 0)); n != 0 {
		t.Errorf("%d kf accounts after del", n)
	}
}

func TestMediaCommands(t *testing.T) {
	w := newWorld(t)
	img := wxsim.PlaceholderImage()
	web := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cat.png" {
			http.NotFound(rw, r)
			return
		}
		rw.Write(img)
	}))
	t.Cleanup(web.Close)
	store, err := w.js.ObjectStore(t.Context(), "WXKF_MEDIA")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutBytes(t.Context(), "icons/cat.png", img); err != nil {
		t.Fatal(err)
	}
	for _, src := range [][]string{{"--file", w.file("cat.png", img)}, {"--url", web.URL + "/cat.png"}, {"--object", "icons/cat.png"}} {
		out := w.ok(append([]string{"media", "upload", "--appid", appID}, src...)...)
		if !strings.Contains(out, "MEDIA_ID") || !strings.Contains(out, "image") {
			t.Errorf("upload %v printed %q", src, out)
		}
	}

	w.sim.AddUserMedia(appID, "USER_MEDIA", img, "")
	dst := filepath.Join(t.TempDir(), "got.png")
	out := w.ok("media", "get", "--appid", appID, "--media-id", "USER_MEDIA", "--out", dst)
	if !strings.Contains(out, "wxmedia/"+appID+"/USER_MEDIA.png") || !strings.Contains(out, "WXKF_MEDIA") {
		t.Errorf("media get printed %q", out)
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, img) {
		t.Errorf("--out file: %d bytes, %v", len(got), err)
	}
	var got struct {
		Object string `json:"object"`
	}
	w.okJSON(&got, "media", "get", "--appid", appID, "--media-id", "USER_MEDIA", "--object", "inbox/1.png")
	if got.Object != "inbox/1.png" {
		t.Errorf("media get --object = %+v", got)
	}
}

// TestManagementErrors runs each documented error code through the CLI.
func TestManagementErrors(t *testing.T) {
	w := newWorld(t)
	icon := w.file("icon.png", wxsim.PlaceholderImage())
	w.ok("business", "register", "--appid", appID, "--account-name", "shop_one", "--nickname", "shop1", "--icon-file", icon, "--transfer-to-commkf")
	w.ok("business", "register", "--appid", appID, "--account-name", "shop_two", "--nickname", "shop2", "--icon-file", icon)
	w.ok("kf", "add", "--appid", appID, "--kf-wx", "agent_main")
	mainOpenID := w.sim.KFAccounts(appID, 0)[0].KFOpenID
	w.sim.AddUserMedia(appID, "TEXT_MEDIA", []byte("no image here"), "text/plain")
	w.sim.AddUserMedia(appID, "OLD_MEDIA", wxsim.PlaceholderImage(), "")
	var up struct {
		MediaID string `json:"media_id"`
	}
	w.okJSON(&up, "media", "upload", "--appid", appID, "--file", icon)
	reg := func(name, nick, media string) []string {
		return []string{"business", "register", "--appid", appID, "--account-name", name, "--nickname", nick, "--icon-media-id", media}
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"45070 account_name taken", reg("shop_one", "abcd", up.MediaID), 45070},
		{"45079 banned nickname", reg("shop_new", "WeChatShop", up.MediaID), 45079},
		{"40007 unknown icon", reg("shop_new", "abcd", "NO_SUCH_MEDIA"), 40007},
		{"40004 icon not an image", reg("shop_new", "abcd", "TEXT_MEDIA"), 40004},
		{"45071 get", []string{"business", "get", "--appid", appID, "--bid", "9"}, 45071},
		{"45071 update", []string{"business", "update", "--appid", appID, "--bid", "9", "--nickname", "abcd"}, 45071},
		{"45071 kf list", []string{"kf", "list", "--appid", appID, "--bid", "9"}, 45071},
		{"65400 kf online", []string{"kf", "online", "--appid", appID, "--bid", "2"}, 65400},
		{"65409 kf add", []string{"kf", "add", "--appid", appID, "--kf-wx", "9agent"}, 65409},
		{"65406 kf add", []string{"kf", "add", "--appid", appID, "--kf-wx", "agent_main"}, 65406},
		{"65407 kf add", []string{"kf", "add", "--appid", appID, "--kf-wx", "agent_main", "--bid", "1"}, 65407},
		{"65401 kf del", []string{"kf", "del", "--appid", appID, "--kf-openid", "oNobody"}, 65401},
		{"65401 kf setadmin", []string{"kf", "setadmin", "--appid", appID, "--kf-openid", mainOpenID, "--bid", "1"}, 65401},
		{"40003 kf canceladmin", []string{"kf", "canceladmin", "--appid", appID, "--kf-openid", "o.b"}, 40003},
		{"40005 upload", []string{"media", "upload", "--appid", appID, "--file", w.file("notes.txt", []byte("text"))}, 40005},
		{"-1005 upload", []string{"media", "upload", "--appid", appID, "--object", "no/such/object"}, manage.CodeMedia},
		{"-1002 unknown app", []string{"kf", "list", "--appid", "wxnotconfigured"}, manage.CodeUnknownApp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := w.code(tt.args...); got != tt.want {
				t.Errorf("kfctl %s: errcode %d, want %d", strings.Join(tt.args, " "), got, tt.want)
			}
		})
	}
	w.sim.Advance(72 * time.Hour)
	if got := w.code("media", "get", "--appid", appID, "--media-id", "OLD_MEDIA"); got != 40007 {
		t.Errorf("expired medium: errcode %d, want 40007", got)
	}
}

// TestLimitsThroughCLI: the 501st sub-merchant and the 101st kf account.
func TestLimitsThroughCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("600 registrations")
	}
	w := newWorld(t)
	c := manage.NewClient(w.nc)
	ctx := t.Context()
	var up struct {
		MediaID string `json:"media_id"`
	}
	w.okJSON(&up, "media", "upload", "--appid", appID, "--file", w.file("icon.png", wxsim.PlaceholderImage()))
	for i := range 500 {
		req := map[string]any{"account_name": fmt.Sprintf("shop_%04d", i), "nickname": "shop", "icon_media_id": up.MediaID, "transfer_to_commkf": i == 0}
		if _, err := c.Request(ctx, appID, manage.OpBusinessRegister, req); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.code("business", "register", "--appid", appID, "--account-name", "shop_0500", "--nickname", "shop", "--icon-media-id", up.MediaID); got != 45077 {
		t.Errorf("501st sub-merchant: errcode %d, want 45077", got)
	}
	if out := w.ok("business", "list", "--appid", appID); strings.Count(out, "\n") != 501 {
		t.Errorf("list printed %d lines, want 501", strings.Count(out, "\n"))
	}
	for i := range 100 {
		if _, err := c.Request(ctx, appID, manage.OpKFAdd, map[string]any{"kf_wx": fmt.Sprintf("agent%03d", i), "business_id": 1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.code("kf", "add", "--appid", appID, "--kf-wx", "agent_101", "--bid", "1"); got != 65405 {
		t.Errorf("101st kf: errcode %d, want 65405", got)
	}
}

// TestInvalidThroughCLI: bad values are refused by the service with a
// clear message; WeChat sees no call.
func TestInvalidThroughCLI(t *testing.T) {
	w := newWorld(t)
	before := w.calls()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"business", "register", "--appid", appID, "--account-name", "apple", "--nickname", "苹果", "--icon-media-id", "m"}, "/account_name: want 6 to 30 characters"},
		{[]string{"business", "register", "--appid", appID, "--account-name", "apple_shop", "--nickname", "苹a", "--icon-media-id", "m"}, "/nickname: is 3 wide, want 4 to 30"},
		{[]string{"business", "update", "--appid", appID, "--bid", "1", "--nickname", "a b c d"}, "/nickname"},
		{[]string{"business", "list", "--appid", appID, "--offset", "0", "--count", "500"}, "/count"},
		{[]string{"kf", "list", "--appid", appID, "--bid", "-3"}, "/business_id"},
		{[]string{"media", "upload", "--appid", appID, "--url", "ftp://example.com/a.png"}, "/url"},
	}
	for _, tt := range tests {
		_, err := w.kfctl(tt.args...)
		var me *manage.Error
		if !errors.As(err, &me) || me.Code != manage.CodeInvalid || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("kfctl %s = %v, want errcode -1001 mentioning %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	if n := w.calls() - before; n != 0 {
		t.Errorf("invalid requests made %d API calls", n)
	}
}

// TestUnexpectedArguments: a command without positional arguments rejects
// them as a usage error naming the command.
func TestUnexpectedArguments(t *testing.T) {
	tests := map[string][]string{
		"tail":      {"tail", "extra"},
		"dlq list":  {"dlq", "list", "extra"},
		"send":      {"send", "--appid", appID, "--openid", user, "--text", "hi", "extra"},
		"status":    {"status", "extra"},
		"kf list":   {"kf", "list", "--appid", appID, "extra"},
		"media get": {"media", "get", "extra", "--appid", appID, "--media-id", "m"},
	}
	for name, args := range tests {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), Config{Args: append([]string{"--nats", "nats://127.0.0.1:1"}, args...), Stdout: &out, Stderr: &errOut})
		if want := name + `: unexpected arguments ["extra"]`; !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("kfctl %q = %v, want ErrUsage with %q", args, err, want)
		}
	}
}

func TestUsage(t *testing.T) {
	tests := [][]string{
		{},
		{"nope"},
		{"business"},
		{"business", "nope", "--appid", appID},
		{"business", "register", "--appid", appID, "--account-name", "apple_shop"},
		{"business", "get", "--appid", appID},
		{"business", "get", "--appid", appID, "--bid", "1", "--account-name", "x"},
		{"business", "update", "--appid", appID},
		{"business", "list", "--appid", appID, "--offset", "3"},
		{"kf", "add", "--appid", appID},
		{"kf", "del", "--appid", appID},
		{"kf", "list"},
		{"media", "upload", "--appid", appID},
		{"media", "get", "--appid", appID},
		{"send", "--appid", appID, "--openid", user},
		{"send", "--appid", appID, "--text", "hi"},
		{"dlq"},
		{"dlq", "replay"},
		{"dlq", "replay", "x1"},
		{"dlq", "replay", "3", "--all"},
		{"dlq", "list", "--appid", "a.b"},
		{"status", "extra"},
		{"kf", "list", "--appid", appID, "--no-such-flag"},
	}
	for _, args := range tests {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), Config{Args: append([]string{"--nats", "nats://127.0.0.1:1"}, args...), Stdout: &out, Stderr: &errOut})
		if !errors.Is(err, ErrUsage) {
			t.Errorf("kfctl %q = %v, want ErrUsage", args, err)
		}
		if !strings.Contains(errOut.String(), "Usage:") {
			t.Errorf("kfctl %q printed no usage", args)
		}
	}
	var out bytes.Buffer
	if err := Run(context.Background(), Config{Args: []string{"help"}, Stdout: &out}); err != nil || !strings.Contains(out.String(), "dlq replay") {
		t.Errorf("help = %v, %q", err, out.String())
	}
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"KFBRIDGE_NATS_URL": "nats://127.0.0.1:1", "KFBRIDGE_APPID": appID}[k]
		return v, ok
	}
	err := Run(context.Background(), Config{Args: []string{"kf", "list"}, LookupEnv: env})
	if err == nil || errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Errorf("with the environment: %v, want a connection error to the URL from KFBRIDGE_NATS_URL", err)
	}
}
