package kfctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultNATSURL is where kfctl connects without --nats or
// KFBRIDGE_NATS_URL: the embedded server of a local kfbridge.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// Config is one run of kfctl.
type Config struct {
	// Args are the command-line arguments without the program name.
	Args []string
	// Stdout receives the output, Stderr the usage and notes.
	Stdout, Stderr io.Writer
	// LookupEnv reads KFBRIDGE_NATS_URL, KFBRIDGE_NATS_CREDS,
	// KFBRIDGE_NATS_USER, KFBRIDGE_NATS_PASSWORD and KFBRIDGE_APPID as
	// defaults; nil reads none.
	LookupEnv func(string) (string, bool)
}

// globals are the flags every command takes.
type globals struct {
	url, creds, nkey, user, password, tlsCA string
	timeout                                 time.Duration
	json                                    bool
	appid                                   string // default of --appid
}

// run is what a command gets: its flags parsed, output and a connection.
type run struct {
	cfg Config
	g   *globals
	out io.Writer
}

const usage = `kfctl operates kfbridge over NATS: sub-merchants, customer-service accounts,
media, test messages, dead letters, status and the live events.

Usage:
  kfctl [flags] <command> [flags]

Management (request/reply to the egress's management service, wxkf.api.<appid>.<op>):
  business register --appid A --account-name N --nickname N (--icon-media-id M | --icon-file F) [--transfer-to-commkf]
  business update   --appid A --bid N [--nickname N] [--icon-media-id M | --icon-file F]
  business get      --appid A (--bid N | --account-name N)
  business list     --appid A [--offset N --count N]    (default: every sub-merchant)
  kf list|online    --appid A [--bid N]
  kf add            --appid A --kf-wx W [--bid N]
  kf del|setadmin|canceladmin --appid A --kf-openid O [--bid N]
  media upload      --appid A (--file F | --url U | --object O)
  media get         --appid A --media-id M [--object NAME] [--out FILE]
  budget            --appid A --openid O [--bid B]   (the conversation's reply budget: sends left, window end)

Messages and operations:
  send       --appid A [--bid N] --openid O (--text T | --image-url U | --image-object O | --media-id M) [--id ID] [--wait D]
  dlq list   [--appid A] [--limit N]
  dlq replay (<seq>... | --all [--appid A])
  status     [--all]    (streams, consumers, tokens — never a token — and the management service;
                         --all also lists idle consumers of streams with more than 8)
  tail       [--results] [--appid A | --subject S] [--all] [--limit N]
                        (one line per event on wxkf.in.>, or per result on wxkf.result.>, until Ctrl-C;
                         --json prints each raw event on one line)

Flags of every command:
  --nats URL        NATS server (default $KFBRIDGE_NATS_URL, else ` + DefaultNATSURL + `)
  --creds FILE      NATS credentials file ($KFBRIDGE_NATS_CREDS)
  --nkey FILE       NATS nkey seed file
  --user U, --password P   NATS user and password ($KFBRIDGE_NATS_USER, $KFBRIDGE_NATS_PASSWORD)
  --tls-ca FILE     CA to verify the NATS server's TLS certificate
  --timeout D       bound of each request (default 35s)
  --json            JSON output for scripts instead of tables
  --appid A         the mini program, for the commands that take one ($KFBRIDGE_APPID)
`

// Run runs the kfctl command line cfg.Args. It returns nil on success, an
// error wrapping [ErrUsage] for a bad command line (the usage is printed),
// [ErrFailed] for a failed outcome it printed, and other errors for
// failures to reach NATS or the management service.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	env := func(name string) string {
		if cfg.LookupEnv == nil {
			return ""
		}
		v, _ := cfg.LookupEnv(name)
		return v
	}
	g := &globals{url: env("KFBRIDGE_NATS_URL"), creds: env("KFBRIDGE_NATS_CREDS"), user: env("KFBRIDGE_NATS_USER"),
		password: env("KFBRIDGE_NATS_PASSWORD"), appid: env("KFBRIDGE_APPID"), timeout: 35 * time.Second}
	if g.url == "" {
		g.url = DefaultNATSURL
	}
	top := newFlags("kfctl", g, cfg.Stderr)
	if err := top.Parse(cfg.Args); err != nil {
		return usageErr(cfg, err)
	}
	args := top.Args()
	if len(args) == 0 {
		fmt.Fprint(cfg.Stderr, usage)
		return fmt.Errorf("%w: no command", ErrUsage)
	}
	r := &run{cfg: cfg, g: g, out: cfg.Stdout}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "business", "kf", "media":
		if len(rest) == 0 {
			fmt.Fprint(cfg.Stderr, usage)
			return fmt.Errorf("%w: %s needs a subcommand", ErrUsage, cmd)
		}
		return r.manage(ctx, cmd, rest[0], rest[1:])
	case "budget":
		if len(rest) > 0 && rest[0] == "get" {
			rest = rest[1:]
		}
		return r.manage(ctx, "budget", "get", rest)
	case "send":
		return r.send(ctx, rest)
	case "dlq":
		if len(rest) == 0 {
			fmt.Fprint(cfg.Stderr, usage)
			return fmt.Errorf("%w: dlq needs list or replay", ErrUsage)
		}
		switch rest[0] {
		case "list":
			return r.dlqList(ctx, rest[1:])
		case "replay":
			return r.dlqReplay(ctx, rest[1:])
		}
		return usageErr(cfg, fmt.Errorf("unknown command dlq %s", rest[0]))
	case "status":
		return r.status(ctx, rest)
	case "tail":
		return r.tail(ctx, rest)
	case "help":
		fmt.Fprint(cfg.Stdout, usage)
		return nil
	}
	return usageErr(cfg, fmt.Errorf("unknown command %q", cmd))
}

// usageErr prints the usage and wraps err in [ErrUsage]; -h is no error.
func usageErr(cfg Config, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	fmt.Fprint(cfg.Stderr, usage)
	return fmt.Errorf("%w: %v", ErrUsage, err)
}

// newFlags returns a flag set with the global flags bound to g.
func newFlags(name string, g *globals, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.StringVar(&g.url, "nats", g.url, "NATS server URL")
	fs.StringVar(&g.creds, "creds", g.creds, "NATS credentials file")
	fs.StringVar(&g.nkey, "nkey", g.nkey, "NATS nkey seed file")
	fs.StringVar(&g.user, "user", g.user, "NATS user")
	fs.StringVar(&g.password, "password", g.password, "NATS password")
	fs.StringVar(&g.tlsCA, "tls-ca", g.tlsCA, "CA file of the NATS server's certificate")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "bound of each request")
	fs.BoolVar(&g.json, "json", g.json, "JSON output")
	return fs
}

// parse parses a command's flags, which may come before, between or after
// its positional arguments, and returns the positional ones.
func (r *run) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageErr(r.cfg, err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseFlags parses the flags of a command that takes no positional
// arguments, and rejects any as the usage error "<command>: unexpected
// arguments".
func (r *run) parseFlags(fs *flag.FlagSet, args []string) error {
	pos, err := r.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr(r.cfg, fmt.Errorf("%s: unexpected arguments %q", fs.Name(), pos))
	}
	return nil
}

// connect connects to NATS with the global flags.
func (r *run) connect() (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("kfctl"), nats.Timeout(5 * time.Second)}
	if r.g.creds != "" {
		opts = append(opts, nats.UserCredentials(r.g.creds))
	}
	if r.g.nkey != "" {
		o, err := nats.NkeyOptionFromSeed(r.g.nkey)
		if err != nil {
			return nil, fmt.Errorf("kfctl: nkey %s: %w", r.g.nkey, err)
		}
		opts = append(opts, o)
	}
	if r.g.user != "" {
		opts = append(opts, nats.UserInfo(r.g.user, r.g.password))
	}
	if r.g.tlsCA != "" {
		opts = append(opts, nats.RootCAs(r.g.tlsCA))
	}
	nc, err := nats.Connect(r.g.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("kfctl: connect to %s: %w", redact(r.g.url), err)
	}
	return nc, nil
}

// connectJS connects and opens JetStream; the caller closes the connection.
func (r *run) connectJS() (*nats.Conn, jetstream.JetStream, error) {
	nc, err := r.connect()
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// redact hides a password in a URL.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return scheme + "://[redacted]@" + rest[at+1:]
	}
	return u
}

// withTimeout bounds ctx by --timeout.
func (r *run) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.g.timeout)
}
