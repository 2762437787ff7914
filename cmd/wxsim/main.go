// Command wxsim simulates WeChat for kfbridge: it sends correctly signed
// pushes as WeChat does and generates load (internal/wxpush), and it
// serves a fake WeChat API that the bridge's egress can call
// (internal/wxsim). Its defaults are the demo app, so it works against
// `kfbridge --demo` with no flags. To watch what kfbridge published, use
// `kfctl tail`.
//
//	wxsim push [flags]   send pushes with WeChat's retry semantics
//	wxsim load [flags]   measure the ingress's throughput and latency
//	wxsim serve [flags]  serve the fake WeChat API until Ctrl-C
//
// Run `wxsim <command> -h` for the flags of a command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kfbridge/kfbridge/internal/buildinfo"
	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

const usage = `wxsim simulates WeChat for kfbridge (defaults: the demo app of kfbridge --demo).

Usage:
  wxsim push [flags]   send signed pushes with WeChat's retry semantics
  wxsim load [flags]   measure the ingress's throughput and latency
  wxsim serve [flags]  serve the fake WeChat API (tokens, send, typing, media) until Ctrl-C
  wxsim --version      print the version

Run "wxsim <command> -h" for the flags of a command.
To print the events kfbridge publishes, use "kfctl tail".
`

// errUsage marks command-line mistakes, which exit with status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "wxsim: ") && !strings.HasPrefix(msg, "wxpush: ") { // the packages' sentinels have it
		msg = "wxsim: " + msg
	}
	fmt.Fprintln(os.Stderr, msg)
	if errors.Is(err, errUsage) || errors.Is(err, wxsim.ErrInvalid) || errors.Is(err, wxpush.ErrInvalid) {
		os.Exit(2)
	}
	os.Exit(1)
}

// run dispatches to a command.
func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("%w: no command", errUsage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "push":
		return push(ctx, args)
	case "load":
		return load(ctx, args)
	case "serve":
		return serve(ctx, args)
	case "version", "-version", "--version":
		fmt.Println("wxsim", buildinfo.Read())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(os.Stdout, usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

func push(ctx context.Context, args []string) error {
	fs := newFlagSet("push", "send signed pushes; exit status 1 when any was not delivered")
	var cfg wxpush.PushConfig
	appFlags(fs, &cfg.URL, &cfg.App)
	spec := specFlags(fs, &cfg.Spec)
	fs.StringVar(&cfg.Spec.MsgID, "msgid", "", "MsgId of the first message (default: random 63-bit); with --count the next ones count up")
	fs.IntVar(&cfg.Count, "count", 1, "number of distinct pushes")
	fs.IntVar(&cfg.Repeat, "repeat", 1, "send each signed push this many times, byte for byte, as WeChat's retries do")
	fs.IntVar(&cfg.Attempts, "attempts", wxpush.DefaultAttempts, "attempts per push before giving up (WeChat: about three)")
	fs.DurationVar(&cfg.RetryInterval, "interval", wxpush.DefaultRetryInterval, "from the start of one attempt to the start of the next")
	fs.DurationVar(&cfg.AttemptTimeout, "timeout", wxpush.DefaultAttemptTimeout, "how long one attempt waits for the answer")
	fs.StringVar(&cfg.SimURL, "sim", wxsim.SimURL, `a running "wxsim serve" to tell of every push before sending it, so its send windows open ("" for none)`)
	verbose := fs.Bool("v", false, "log every attempt to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := spec(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = newLogger(level)
	return wxpush.RunPush(ctx, cfg, os.Stdout)
}

func load(ctx context.Context, args []string) error {
	fs := newFlagSet("load", "send pushes back to back from many connections and report throughput and latency")
	var cfg wxpush.LoadConfig
	appFlags(fs, &cfg.URL, &cfg.App)
	spec := specFlags(fs, &cfg.Spec)
	fs.IntVar(&cfg.Conns, "conns", 64, "workers, each with its own keep-alive connection")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "time before the measured time, not counted (0: none)")
	fs.IntVar(&cfg.Pushes, "pushes", 0, "unique pushes to generate before the run (default: 15000 per second of warmup+duration)")
	fs.DurationVar(&cfg.Timeout, "timeout", wxpush.DefaultAttemptTimeout, "timeout of each request")
	fs.StringVar(&cfg.SimURL, "sim", wxsim.SimURL, `a running "wxsim serve" to tell of the user's interaction after the run ("" for none)`)
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	dump := fs.String("dump", "", "write the signed pushes to this file (one \"path?query<TAB>body\" per line, for bench/wrk) instead of sending them")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := spec(); err != nil {
		return err
	}
	if *dump != "" {
		f, err := os.Create(*dump)
		if err != nil {
			return err
		}
		n, err := wxpush.Dump(ctx, cfg, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			fmt.Fprintf(os.Stderr, "wrote %d signed pushes to %s\n", n, *dump)
		}
		return err
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = -1 // the flag's 0 means none; the config's 0 means default
	}
	cfg.Logger = newLogger(slog.LevelInfo)
	return wxpush.RunLoad(ctx, cfg, os.Stdout, *asJSON)
}

func serve(ctx context.Context, args []string) error {
	fs := newFlagSet("serve", "serve the fake WeChat API (tokens, send, typing, media) and its /sim/ control endpoints until Ctrl-C")
	var cfg wxsim.ServeConfig
	fs.StringVar(&cfg.Listen, "listen", wxsim.DefaultListen, "TCP address to listen on")
	fs.DurationVar(&cfg.Sim.Latency, "latency", 0, "added to every API answer")
	fs.Float64Var(&cfg.Sim.FailRate, "fail-rate", 0, `probability of errcode -1 "system error" on send, typing and media calls`)
	fs.Float64Var(&cfg.Sim.HTTP5xxRate, "http5xx-rate", 0, "probability of an HTTP 502 on send, typing and media calls")
	fs.Float64Var(&cfg.Sim.TokenFailRate, "token-fail-rate", 0, "probability of errcode -1 on token fetches")
	fs.Float64Var(&cfg.Sim.TokenHTTP5xxRate, "token-http5xx-rate", 0, "probability of an HTTP 502 on token fetches")
	fs.Uint64Var(&cfg.Sim.Seed, "seed", 0, "seed of the fault decisions")
	fs.IntVar(&cfg.Sim.MinuteQuota, "minute-quota", wxsim.DefaultMinuteQuota, "send calls per app and minute before 45011 (negative: no limit)")
	fs.IntVar(&cfg.Sim.DailyQuota, "daily-quota", wxsim.DefaultDailyQuota, "send calls per app and day before 45009 (negative: no limit)")
	apps := fs.String("apps", demo.AppID+":"+demo.Secret, "simulated apps as appid:secret,appid:secret,...")
	verbose := fs.Bool("v", false, "log every API call to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	var err error
	if cfg.Sim.Apps, err = wxsim.ParseApps(*apps); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = newLogger(level)
	return wxsim.RunServe(ctx, cfg, os.Stdout)
}

// appFlags registers the ingress URL and app credential flags. Token and
// key default to the demo app's only for the demo AppID.
func appFlags(fs *flag.FlagSet, url *string, app *wxpush.App) {
	fs.StringVar(url, "url", demo.IngressURL, "ingress base URL; pushes go to <url>/wx/<appid>")
	fs.StringVar(&app.AppID, "appid", demo.AppID, "mini program AppID")
	fs.StringVar(&app.Token, "token", "", "push Token (default: the demo app's, with the demo AppID)")
	fs.StringVar(&app.EncodingAESKey, "aes-key", "", "EncodingAESKey, 43 characters, for compatible and safe modes (default: the demo app's, with the demo AppID)")
}

// specFlags registers the flags that describe a push; the returned
// function parses the format and mode after fs.Parse.
func specFlags(fs *flag.FlagSet, s *wxpush.Spec) func() error {
	format := fs.String("format", "xml", "body format: xml or json")
	mode := fs.String("mode", "", "encryption mode: plaintext, compatible or safe (default: safe when the app has an EncodingAESKey, as the demo app does, else plaintext)")
	fs.StringVar(&s.Kind, "kind", wxpush.KindText,
		"text, image, miniprogrampage, user_enter_tempsession, event:<Event> (event:debug_demo has debug_str) or any other MsgType (made-up fields)")
	fs.Int64Var(&s.BusinessID, "bid", 0, "BusinessId of a sub-merchant session (0: none)")
	fs.StringVar(&s.OpenID, "openid", demo.OpenID, "sender openid (FromUserName)")
	fs.StringVar(&s.To, "to", demo.OriginalID, "mini program original id (ToUserName)")
	fs.StringVar(&s.Content, "content", "", "text content, card title, SessionFrom or debug_str (default: a fixed text)")
	return func() error {
		var err1, err2 error
		s.Format, err1 = wxpush.ParseFormat(*format)
		if *mode != "" {
			s.Mode, err2 = wxpush.ParseMode(*mode)
		}
		return errors.Join(err1, err2)
	}
}

func newFlagSet(name, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("wxsim "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "wxsim %s: %s\n\nFlags:\n", name, about)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, rejecting stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
