package bridge

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/kfbridge/kfbridge/internal/broker"
	"github.com/kfbridge/kfbridge/internal/config"
)

// LoadConfig loads the configuration as every binary does: the YAML file
// at path (none when empty) with the KFBRIDGE_ overrides and ${NAME}
// references of environ (os.Environ's form). It refuses KFBRIDGE_
// variables that name nothing ([config.CheckEnviron]) and reports them
// together with the file's problems, and then those naming a list element
// the configuration does not have ([config.CheckIndexes]).
func LoadConfig(path string, environ []string) (*config.Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if name, value, ok := strings.Cut(kv, "="); ok {
			vars[name] = value
		}
	}
	var refs []string
	if path != "" {
		if data, err := os.ReadFile(path); err == nil { // Load reports a read error
			refs = config.References(data)
		}
	}
	envErr := config.CheckEnviron(environ, refs)
	cfg, err := config.Load(path, func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
	if err := errors.Join(envErr, err); err != nil {
		return nil, err
	}
	if err := config.CheckIndexes(cfg, environ); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Check reports every problem that would keep the parts in opts from
// starting with cfg: those of [Preflight], and every listen address that
// cannot be bound now (in use, or not this host's), with its key and the
// reason. It binds each address and releases it at once; it starts
// nothing and does not contact NATS.
func Check(cfg *config.Config, opts Options) error {
	if err := Preflight(cfg, opts); err != nil {
		return err
	}
	lns, err := bind(cfg, opts, true)
	if err != nil {
		return err
	}
	lns.close()
	return nil
}

// PrintProblems writes err to w one problem a line, each prefixed with
// name: the errors joined in err (recursively) each get their own line.
func PrintProblems(w io.Writer, name string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			PrintProblems(w, name, e)
		}
		return
	}
	fmt.Fprintf(w, "%s: %v\n", name, err)
}

// Summary describes in a few lines what a bridge with cfg and opts runs,
// for `check`: apps, listeners and NATS, without secrets.
func Summary(cfg *config.Config, opts Options) string {
	var b strings.Builder
	apps := make([]string, 0, len(cfg.Apps))
	for _, a := range cfg.Apps {
		apps = append(apps, fmt.Sprintf("%s (%s)", a.AppID, strings.Join(a.AcceptedModes(), ", ")))
	}
	fmt.Fprintf(&b, "  apps     %d: %s\n", len(cfg.Apps), strings.Join(apps, "; "))
	if opts.Ingress {
		fmt.Fprintf(&b, "  ingress  %s (pushes at /wx/<appid>), admin %s\n", cfg.Ingress.Listen, cfg.Ingress.AdminListen)
	}
	if opts.Egress {
		fmt.Fprintf(&b, "  egress   WeChat API %s, reply budget %s, %d partitions\n", cfg.Egress.APIBase, cfg.Egress.ReplyBudget, cfg.Egress.Partitions)
		if !opts.Ingress {
			fmt.Fprintf(&b, "  health   %s\n", cfg.Egress.Listen)
		}
	}
	if cfg.NATS.URL == "" {
		listen := cfg.NATS.Embedded.Listen
		if host, port, err := net.SplitHostPort(listen); err == nil && anyPort(port) {
			listen = host + ", a free port"
		}
		fmt.Fprintf(&b, "  nats     embedded, listening on %s, storing in %s\n", listen, cfg.NATS.Embedded.StoreDir)
	} else {
		fmt.Fprintf(&b, "  nats     %s (not contacted by check)\n", broker.RedactURL(cfg.NATS.URL))
	}
	return b.String()
}
