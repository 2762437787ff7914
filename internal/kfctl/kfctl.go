package kfctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kfbridge/kfbridge/internal/buildinfo"
)

// DefaultNATSURL is where kfctl connects without --nats or
// KFBRIDGE_NATS_URL: the embedded server of a local kfbridge.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// Config is one run of kfctl.
type Config struct {
	// Args are the command-line arguments without the program name.
	Args []string
	// Stdout receives the output and the help, Stderr the usage of a bad
	// command line and notes.
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
}

// run is what a command gets: the global flags, output and the
// environment.
type run struct {
	cfg Config
	g   *globals
	out io.Writer
}

// env returns the environment variable name, or "".
func (r *run) env(name string) string {
	if r.cfg.LookupEnv == nil {
		return ""
	}
	v, _ := r.cfg.LookupEnv(name)
	return v
}

// envDefaults gives the global flags not set on the command line their
// value from the environment. It runs after parsing, so the help never
// shows an environment value (such as a password).
func (r *run) envDefaults(fs *pflag.FlagSet) {
	for flag, env := range map[string]string{"nats": "KFBRIDGE_NATS_URL", "creds": "KFBRIDGE_NATS_CREDS",
		"user": "KFBRIDGE_NATS_USER", "password": "KFBRIDGE_NATS_PASSWORD"} {
		f := fs.Lookup(flag)
		if f == nil || f.Changed {
			continue
		}
		if v := r.env(env); v != "" {
			f.Value.Set(v)
		}
	}
	if r.g.url == "" {
		r.g.url = DefaultNATSURL
	}
}

// appidFlag adds --appid to cmd; its value, read after parsing, defaults
// to $KFBRIDGE_APPID.
func (r *run) appidFlag(cmd *cobra.Command, usage string) func() string {
	var appid string
	cmd.Flags().StringVar(&appid, "appid", "", usage+" (default $KFBRIDGE_APPID)")
	return func() string {
		if !cmd.Flags().Changed("appid") && appid == "" {
			return r.env("KFBRIDGE_APPID")
		}
		return appid
	}
}

// Run runs the kfctl command line cfg.Args. It returns nil on success
// (and for --help, which runs nothing), an error wrapping [ErrUsage] for a
// bad command line (the command's usage is printed to Stderr), [ErrFailed]
// for a failed outcome it printed, and other errors for failures to reach
// NATS or the management service.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	r := &run{cfg: cfg, g: &globals{}, out: cfg.Stdout}
	root := r.rootCmd()
	if cfg.Args == nil {
		cfg.Args = []string{} // cobra would read os.Args
	}
	root.SetArgs(cfg.Args)
	root.SetOut(cfg.Stdout)
	root.SetErr(cfg.Stderr)
	return root.ExecuteContext(ctx)
}

// rootCmd builds the command tree.
func (r *run) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "kfctl",
		Short: "kfctl operates kfbridge over NATS",
		Long: `kfctl operates kfbridge over NATS: sub-merchants, customer-service accounts,
media and reply budgets (through the management service of every egress,
wxkf.api.<appid>.<op>), test messages, dead letters (dlq list, dlq replay),
status and the live events and results (tail).

Output is a table for people; --json prints JSON for scripts (one document,
or JSON Lines for tail). --help never runs a command.`,
		Example: `  kfctl status
  kfctl send --appid wx0123456789abcdef --openid oUser --text "hello"
  kfctl dlq list --reason window --newer-than 1h
  kfctl tail --results --json | jq .`,
		Version:       buildinfo.Read().String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          r.noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.usageErr(cmd, errors.New("no command"))
		},
		PersistentPreRun: func(cmd *cobra.Command, _ []string) { r.envDefaults(cmd.Flags()) },
	}
	root.SetVersionTemplate("kfctl {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return r.usageErr(cmd, err) })
	pf := root.PersistentFlags()
	pf.StringVar(&r.g.url, "nats", "", "NATS server URL (default $KFBRIDGE_NATS_URL, else "+DefaultNATSURL+")")
	pf.StringVar(&r.g.creds, "creds", "", "NATS credentials file (default $KFBRIDGE_NATS_CREDS)")
	pf.StringVar(&r.g.nkey, "nkey", "", "NATS nkey seed file")
	pf.StringVar(&r.g.user, "user", "", "NATS user (default $KFBRIDGE_NATS_USER)")
	pf.StringVar(&r.g.password, "password", "", "NATS password (default $KFBRIDGE_NATS_PASSWORD)")
	pf.StringVar(&r.g.tlsCA, "tls-ca", "", "CA file to verify the NATS server's TLS certificate")
	pf.DurationVar(&r.g.timeout, "timeout", 35*time.Second, "bound of each request")
	pf.BoolVar(&r.g.json, "json", false, "JSON output for scripts instead of tables")
	root.AddGroup(&cobra.Group{ID: "manage", Title: "Management (the egress's management service):"},
		&cobra.Group{ID: "ops", Title: "Messages and operations:"})
	for _, c := range r.manageCmds() {
		c.GroupID = "manage"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{r.sendCmd(), r.dlqCmd(), r.statusCmd(), r.tailCmd()} {
		c.GroupID = "ops"
		root.AddCommand(c)
	}
	return root
}

// group returns a command that only holds subcommands: run alone, or with
// an unknown subcommand, it is a usage error.
func (r *run) group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use + " <command>",
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return r.usageErr(cmd, fmt.Errorf("unknown command %q", cmd.CommandPath()+" "+args[0]))
			}
			return r.usageErr(cmd, fmt.Errorf("%s needs a command", cmd.CommandPath()))
		},
	}
	c.AddCommand(subs...)
	return c
}

// usageErr prints cmd's usage to stderr and wraps err in [ErrUsage].
func (r *run) usageErr(cmd *cobra.Command, err error) error {
	fmt.Fprint(r.cfg.Stderr, cmd.UsageString())
	return fmt.Errorf("%w: %v", ErrUsage, err)
}

// noArgs is the Args check of a command without positional arguments:
// "<command>: unexpected arguments [...]" as a usage error.
func (r *run) noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		if !cmd.HasParent() && cmd.HasSubCommands() {
			return r.usageErr(cmd, fmt.Errorf("unknown command %q", args[0]))
		}
		return r.usageErr(cmd, fmt.Errorf("%s: unexpected arguments %q", name, args))
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
