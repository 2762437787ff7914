package kfctl

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// mgmt is one management command being built: the op, its request, and
// what to print of the reply.
type mgmt struct {
	op     string
	req    map[string]any
	render func(r *run, reply json.RawMessage) error
	// before, when set, runs first (uploads an icon file); after, when
	// set, runs on success (writes a downloaded medium to a file).
	before func(ctx context.Context, c *manage.Client, nc *nats.Conn) error
	after  func(ctx context.Context, nc *nats.Conn, reply json.RawMessage) error
}

// mgmtCmd describes one management command: its place, help and examples.
type mgmtCmd struct {
	group, sub, short, long, example string
}

// mgmtCmds are the management commands, in the order of the help.
var mgmtCmds = []mgmtCmd{
	{"business", "register", "Register a sub-merchant (business.register)", "",
		"  kfctl business register --appid wx… --account-name apple_shop --nickname 苹果小店 --icon-file icon.png --transfer-to-commkf"},
	{"business", "update", "Change a sub-merchant's nickname or icon (business.update)", "",
		"  kfctl business update --appid wx… --bid 1 --nickname 新名字"},
	{"business", "get", "Show one sub-merchant (business.get)", "",
		"  kfctl business get --appid wx… --bid 1\n  kfctl business get --appid wx… --account-name apple_shop"},
	{"business", "list", "List sub-merchants (business.list)", "Without --offset and --count it lists every sub-merchant.",
		"  kfctl business list --appid wx…\n  kfctl business list --appid wx… --offset 200 --count 200 --json"},
	{"kf", "list", "List customer-service accounts (kf.list)", "",
		"  kfctl kf list --appid wx… --bid 1"},
	{"kf", "online", "List online customer-service accounts (kf.online)", "",
		"  kfctl kf online --appid wx…"},
	{"kf", "add", "Add a customer-service account (kf.add)", "",
		"  kfctl kf add --appid wx… --kf-wx agent_one --bid 1"},
	{"kf", "del", "Delete a customer-service account (kf.del)", "",
		"  kfctl kf del --appid wx… --kf-openid o…"},
	{"kf", "setadmin", "Make a customer-service account an admin (kf.setadmin)", "",
		"  kfctl kf setadmin --appid wx… --kf-openid o…"},
	{"kf", "canceladmin", "Take a customer-service account's admin role (kf.canceladmin)", "",
		"  kfctl kf canceladmin --appid wx… --kf-openid o…"},
	{"media", "upload", "Upload an image to WeChat (media.upload): prints its media_id", "",
		"  kfctl media upload --appid wx… --file icon.png\n  kfctl media upload --appid wx… --url https://example.com/a.png"},
	{"media", "get", "Fetch a user's image into WXKF_MEDIA (media.get)", "",
		"  kfctl media get --appid wx… --media-id M --out image.jpg"},
}

// manageCmds returns the business, kf and media groups and budget.
func (r *run) manageCmds() []*cobra.Command {
	groups := map[string]*cobra.Command{
		"business": r.group("business", "Sub-merchants: register, update, get, list"),
		"kf":       r.group("kf", "Customer-service accounts: list, online, add, del, setadmin, canceladmin"),
		"media":    r.group("media", "Media: upload an image, get a user's image"),
	}
	for _, m := range mgmtCmds {
		groups[m.group].AddCommand(r.mgmtCommand(m))
	}
	budget := r.mgmtCommand(mgmtCmd{"budget", "get", "Show a conversation's reply budget (budget.get): sends left, window end", "",
		"  kfctl budget --appid wx… --openid o…\n  kfctl budget get --appid wx… --openid o… --bid 1 --json"})
	budget.Use, budget.Aliases = "budget", nil
	getCmd := r.mgmtCommand(mgmtCmd{"budget", "get", budget.Short, "", budget.Example})
	getCmd.Hidden = true
	budget.AddCommand(getCmd)
	return []*cobra.Command{groups["business"], groups["kf"], groups["media"], budget}
}

// mgmtCommand builds the command of m.
func (r *run) mgmtCommand(m mgmtCmd) *cobra.Command {
	cmd := &cobra.Command{Use: m.sub, Short: m.short, Long: m.short + ".\n" + m.long, Example: m.example, Args: r.noArgs}
	appid := r.appidFlag(cmd, "mini program AppID")
	build := r.mgmtFlags(m.group, m.sub, cmd.Flags(), appid)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if appid() == "" {
			return r.usageErr(cmd, fmt.Errorf("%s %s needs --appid", m.group, m.sub))
		}
		set := map[string]bool{}
		cmd.Flags().Visit(func(f *pflag.Flag) { set[f.Name] = true })
		mg, err := build(set)
		if err != nil {
			return r.usageErr(cmd, err)
		}
		return r.request(cmd.Context(), appid(), mg)
	}
	return cmd
}

// mgmtFlags defines the flags of management command group sub on fs and
// returns what builds its request from them.
func (r *run) mgmtFlags(group, sub string, fs *pflag.FlagSet, appid func() string) func(set map[string]bool) (*mgmt, error) {
	var build func(set map[string]bool) (*mgmt, error)
	switch group + " " + sub {
	case "business register":
		name := fs.String("account-name", "", "account_name: 6–30 of [A-Za-z0-9_]")
		nick := fs.String("nickname", "", "nickname: 4–30 wide, a Chinese character counts 2")
		icon := fs.String("icon-media-id", "", "media_id of the icon image")
		iconFile := fs.String("icon-file", "", "image file to upload as the icon")
		transfer := fs.Bool("transfer-to-commkf", false, "forward to the common customer-service tools (needed for kf accounts of the sub-merchant)")
		build = func(set map[string]bool) (*mgmt, error) {
			if *name == "" || *nick == "" || (*icon == "") == (*iconFile == "") {
				return nil, errors.New("business register needs --account-name, --nickname and one of --icon-media-id, --icon-file")
			}
			m := &mgmt{op: manage.OpBusinessRegister, req: map[string]any{"account_name": *name, "nickname": *nick, "icon_media_id": *icon}, render: renderRegister}
			if set["transfer-to-commkf"] {
				m.req["transfer_to_commkf"] = *transfer
			}
			m.before = uploadIcon(appid(), *iconFile, m.req)
			return m, nil
		}
	case "business update":
		bid := fs.Int64("bid", 0, "business_id")
		nick := fs.String("nickname", "", "new nickname")
		icon := fs.String("icon-media-id", "", "media_id of a new icon")
		iconFile := fs.String("icon-file", "", "image file to upload as the new icon")
		build = func(set map[string]bool) (*mgmt, error) {
			if !set["bid"] || *icon != "" && *iconFile != "" {
				return nil, errors.New("business update needs --bid, and at most one of --icon-media-id, --icon-file")
			}
			req := map[string]any{"business_id": *bid}
			if *nick != "" {
				req["nickname"] = *nick
			}
			if *icon != "" {
				req["icon_media_id"] = *icon
			}
			return &mgmt{op: manage.OpBusinessUpdate, req: req, render: renderOK("updated sub-merchant %d", *bid), before: uploadIcon(appid(), *iconFile, req)}, nil
		}
	case "business get":
		bid := fs.Int64("bid", 0, "business_id")
		name := fs.String("account-name", "", "account_name")
		build = func(set map[string]bool) (*mgmt, error) {
			switch {
			case set["bid"] && *name == "":
				return &mgmt{op: manage.OpBusinessGet, req: map[string]any{"business_id": *bid}, render: renderBusinessInfo}, nil
			case !set["bid"] && *name != "":
				return &mgmt{op: manage.OpBusinessGet, req: map[string]any{"account_name": *name}, render: renderBusinessInfo}, nil
			}
			return nil, errors.New("business get needs one of --bid, --account-name")
		}
	case "business list":
		offset := fs.Int("offset", 0, "first sub-merchant, from 0")
		count := fs.Int("count", 0, "sub-merchants in the page, up to 200")
		build = func(set map[string]bool) (*mgmt, error) {
			if set["offset"] || set["count"] {
				if !set["count"] {
					return nil, errors.New("business list --offset needs --count")
				}
				return &mgmt{op: manage.OpBusinessList, req: map[string]any{"offset": *offset, "count": *count}, render: renderBusinessList}, nil
			}
			return &mgmt{op: manage.OpBusinessList, req: map[string]any{"all": true}, render: renderBusinessList}, nil
		}
	case "kf list", "kf online":
		bid := fs.Int64("bid", 0, "business_id of a sub-merchant; 0 the main account")
		build = func(map[string]bool) (*mgmt, error) {
			req := map[string]any{}
			if *bid != 0 {
				req["business_id"] = *bid
			}
			if sub == "list" {
				return &mgmt{op: manage.OpKFList, req: req, render: renderKFList}, nil
			}
			return &mgmt{op: manage.OpKFOnline, req: req, render: renderKFOnline}, nil
		}
	case "kf add":
		bid := fs.Int64("bid", 0, "business_id of a sub-merchant; 0 the main account")
		wx := fs.String("kf-wx", "", "the agent's WeChat id")
		build = func(map[string]bool) (*mgmt, error) {
			if *wx == "" {
				return nil, errors.New("kf add needs --kf-wx")
			}
			req := map[string]any{"kf_wx": *wx}
			if *bid != 0 {
				req["business_id"] = *bid
			}
			return &mgmt{op: manage.OpKFAdd, req: req, render: renderOK("added kf %s", *wx)}, nil
		}
	case "kf del", "kf setadmin", "kf canceladmin":
		bid := fs.Int64("bid", 0, "business_id of a sub-merchant; 0 the main account")
		openid := fs.String("kf-openid", "", "the kf account's kf_openid (kfctl kf list)")
		build = func(map[string]bool) (*mgmt, error) {
			if *openid == "" {
				return nil, fmt.Errorf("kf %s needs --kf-openid", sub)
			}
			req := map[string]any{"kf_openid": *openid}
			if *bid != 0 {
				req["business_id"] = *bid
			}
			op := map[string]string{"del": manage.OpKFDel, "setadmin": manage.OpKFSetAdmin, "canceladmin": manage.OpKFCancelAdmin}[sub]
			return &mgmt{op: op, req: req, render: renderOK("%s %s: ok", op, *openid)}, nil
		}
	case "media upload":
		file := fs.String("file", "", "image file")
		url := fs.String("url", "", "http(s) URL of the image")
		object := fs.String("object", "", "object name in WXKF_MEDIA")
		build = func(map[string]bool) (*mgmt, error) {
			n := 0
			for _, v := range []string{*file, *url, *object} {
				if v != "" {
					n++
				}
			}
			if n != 1 {
				return nil, errors.New("media upload needs one of --file, --url, --object")
			}
			req := map[string]any{}
			switch {
			case *file != "":
				data, err := os.ReadFile(*file)
				if err != nil {
					return nil, err
				}
				req["data"] = base64.StdEncoding.EncodeToString(data)
				req["filename"] = filepath.Base(*file)
			case *url != "":
				req["url"] = *url
			default:
				req["object"] = *object
			}
			return &mgmt{op: manage.OpMediaUpload, req: req, render: renderUpload}, nil
		}
	case "media get":
		id := fs.String("media-id", "", "media_id (of a user's image push)")
		object := fs.String("object", "", "object name to store it under (default wxmedia/<appid>/<media_id>.<ext>)")
		out := fs.String("out", "", "also write the medium to this file")
		build = func(map[string]bool) (*mgmt, error) {
			if *id == "" {
				return nil, errors.New("media get needs --media-id")
			}
			req := map[string]any{"media_id": *id}
			if *object != "" {
				req["object"] = *object
			}
			m := &mgmt{op: manage.OpMediaGet, req: req, render: renderMediaGet}
			if *out != "" {
				m.after = saveObject(*out)
			}
			return m, nil
		}
	case "budget get":
		bid := fs.String("bid", "0", "business_id of a sub-merchant; 0 the main account")
		openid := fs.String("openid", "", "the user's openid")
		build = func(map[string]bool) (*mgmt, error) {
			if *openid == "" {
				return nil, errors.New("budget needs --openid")
			}
			return &mgmt{op: opBudgetGet, req: map[string]any{"openid": *openid, "business_id": *bid}, render: renderBudget}, nil
		}
	default:
		panic("kfctl: no management command " + group + " " + sub)
	}
	return build
}

// request sends a management request and prints the reply.
func (r *run) request(ctx context.Context, appid string, m *mgmt) error {
	nc, err := r.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	c := manage.NewClient(nc)
	if m.before != nil {
		if err := m.before(ctx, c, nc); err != nil {
			return err
		}
	}
	reply, err := c.Request(ctx, appid, m.op, m.req)
	var me *manage.Error
	if errors.As(err, &me) && r.g.json {
		writeJSON(r.out, reply)
	}
	if err != nil {
		return err
	}
	if m.after != nil {
		if err := m.after(ctx, nc, reply); err != nil {
			return err
		}
	}
	if r.g.json {
		return writeJSON(r.out, reply)
	}
	return m.render(r, reply)
}

// uploadIcon returns a step that uploads file (when not "") through
// media.upload and puts its media_id in req.
func uploadIcon(appid, file string, req map[string]any) func(context.Context, *manage.Client, *nats.Conn) error {
	if file == "" {
		return nil
	}
	return func(ctx context.Context, c *manage.Client, _ *nats.Conn) error {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		reply, err := c.Request(ctx, appid, manage.OpMediaUpload, map[string]any{
			"data": base64.StdEncoding.EncodeToString(data), "filename": filepath.Base(file)})
		if err != nil {
			return fmt.Errorf("upload icon %s: %w", file, err)
		}
		var m struct {
			MediaID string `json:"media_id"`
		}
		if err := json.Unmarshal(reply, &m); err != nil || m.MediaID == "" {
			return fmt.Errorf("upload icon %s: no media_id in %s", file, reply)
		}
		req["icon_media_id"] = m.MediaID
		return nil
	}
}

// saveObject returns a step that writes the object media.get stored to
// file.
func saveObject(file string) func(context.Context, *nats.Conn, json.RawMessage) error {
	return func(ctx context.Context, nc *nats.Conn, reply json.RawMessage) error {
		var m struct {
			Bucket string `json:"bucket"`
			Object string `json:"object"`
		}
		if err := json.Unmarshal(reply, &m); err != nil {
			return err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		store, err := js.ObjectStore(ctx, m.Bucket)
		if err != nil {
			return fmt.Errorf("object store %s: %w", m.Bucket, err)
		}
		if err := store.GetFile(ctx, m.Object, file); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		return nil
	}
}

func renderOK(format string, args ...any) func(*run, json.RawMessage) error {
	return func(r *run, _ json.RawMessage) error {
		_, err := fmt.Fprintf(r.out, format+"\n", args...)
		return err
	}
}

// opBudgetGet is the management op of a conversation's reply budget
// (manage.OpBudgetGet of the reply-budget work, not on this branch's
// internal/manage yet).
const opBudgetGet = "budget.get"

func renderBudget(r *run, reply json.RawMessage) error {
	var b struct {
		Remaining int       `json:"remaining"`
		ExpiresAt time.Time `json:"expires_at"`
		Trigger   string    `json:"trigger"`
	}
	if err := json.Unmarshal(reply, &b); err != nil {
		return err
	}
	t := newTable(r.out, "REMAINING", "EXPIRES_AT", "TRIGGER")
	expires, trigger := "-", "-"
	if !b.ExpiresAt.IsZero() {
		expires = b.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if b.Trigger != "" {
		trigger = b.Trigger
	}
	t.row(b.Remaining, expires, trigger)
	return t.flush()
}

func renderRegister(r *run, reply json.RawMessage) error {
	var a struct {
		BusinessID int64 `json:"business_id"`
	}
	if err := json.Unmarshal(reply, &a); err != nil {
		return err
	}
	t := newTable(r.out, "BUSINESS_ID")
	t.row(a.BusinessID)
	return t.flush()
}

func businessTable(r *run, list []wxapi.Business) error {
	t := newTable(r.out, "BUSINESS_ID", "ACCOUNT_NAME", "NICKNAME", "ICON_URL")
	for _, b := range list {
		t.row(b.BusinessID, b.AccountName, b.Nickname, b.IconURL)
	}
	return t.flush()
}

func renderBusinessInfo(r *run, reply json.RawMessage) error {
	var a struct {
		Info wxapi.Business `json:"business_info"`
	}
	if err := json.Unmarshal(reply, &a); err != nil {
		return err
	}
	return businessTable(r, []wxapi.Business{a.Info})
}

func renderBusinessList(r *run, reply json.RawMessage) error {
	var a struct {
		List []wxapi.Business `json:"list"`
	}
	if err := json.Unmarshal(reply, &a); err != nil {
		return err
	}
	return businessTable(r, a.List)
}

func renderKFList(r *run, reply json.RawMessage) error {
	var a struct {
		List []wxapi.KF `json:"kf_list"`
	}
	if err := json.Unmarshal(reply, &a); err != nil {
		return err
	}
	t := newTable(r.out, "KF_ID", "KF_WX", "KF_NICK", "KF_OPENID")
	for _, k := range a.List {
		t.row(k.KFID, k.KFWX, k.KFNick, k.KFOpenID)
	}
	return t.flush()
}

func renderKFOnline(r *run, reply json.RawMessage) error {
	var a struct {
		List []wxapi.OnlineKF `json:"kf_online_list"`
	}
	if err := json.Unmarshal(reply, &a); err != nil {
		return err
	}
	t := newTable(r.out, "KF_ID", "KF_OPENID", "STATUS")
	for _, k := range a.List {
		status := fmt.Sprint(k.Status)
		if k.Status == 1 {
			status = "1 (web online)"
		}
		t.row(k.KFID, k.KFOpenID, status)
	}
	return t.flush()
}

func renderUpload(r *run, reply json.RawMessage) error {
	var a struct {
		MediaID   string          `json:"media_id"`
		Type      string          `json:"type"`
		CreatedAt json.RawMessage `json:"created_at"`
	}
	if err := json.Unmarshal(reply, &a); err != nil {
		return err
	}
	t := newTable(r.out, "MEDIA_ID", "TYPE", "CREATED_AT")
	t.row(a.MediaID, a.Type, string(a.CreatedAt))
	return t.flush()
}

func renderMediaGet(r *run, reply json.RawMessage) error {
	var a struct {
		Bucket      string `json:"bucket"`
		Object      string `json:"object"`
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
	}
	if err := json.Unmarshal(reply, &a); err != nil {
		return err
	}
	t := newTable(r.out, "BUCKET", "OBJECT", "CONTENT_TYPE", "SIZE")
	t.row(a.Bucket, a.Object, a.ContentType, a.Size)
	return t.flush()
}
