package bridge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// Preflight reports, before anything starts, every problem of a validated
// configuration that would stop or cripple the parts opts selects: no apps
// (every push would be answered 404), an app without the push token the
// ingress needs or the secret the egress needs, an EncodingAESKey that
// does not parse (the error names the app, never the key), NATS URLs that
// do not parse and files (NATS credentials, TLS certificates) that cannot
// be read, and two listeners on one address. It joins one error per
// problem, each wrapping [ErrPreflight]. It binds nothing; [Check] also
// tries the listen addresses.
func Preflight(cfg *config.Config, opts Options) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrPreflight}, args...)...))
	}
	if len(cfg.Apps) == 0 {
		bad("apps: none configured, so every push would be answered 404 and every command fail; list them under apps: in the config file or set KFBRIDGE_APPS_0_APPID and its keys (kfbridge --demo runs a demo app)")
	}
	for i, a := range cfg.Apps {
		app := fmt.Sprintf("apps[%d] (%s)", i, a.AppID)
		if opts.Ingress {
			if a.Token == "" {
				bad("%s: token is empty: the ingress needs the push Token of the mini program console to verify pushes", app)
			}
			for _, k := range []struct {
				key   string
				value config.Secret
			}{{"encoding_aes_key", a.EncodingAESKey}, {"previous_encoding_aes_key", a.PreviousEncodingAESKey}} {
				if k.value == "" {
					continue
				}
				if _, err := wxcodec.ParseKey(k.value.Value()); err != nil {
					bad("%s.%s: %v", app, k.key, err) // ParseKey's errors never contain the key
				}
			}
		}
		if opts.Egress && a.Secret == "" {
			bad("%s: secret is empty: the egress needs the AppSecret to get access tokens", app)
		}
	}
	if cfg.NATS.URL != "" {
		for i, part := range strings.Split(cfg.NATS.URL, ",") {
			if err := checkNATSURL(strings.TrimSpace(part)); err != nil {
				bad("nats.url: server %d of the list: %v", i+1, err)
			}
		}
	}
	for _, f := range []struct{ key, path string }{
		{"nats.creds_file", cfg.NATS.CredsFile}, {"nats.nkey_file", cfg.NATS.NKeyFile}, {"nats.tls.ca_file", cfg.NATS.TLS.CAFile},
		{"nats.tls.cert_file", cfg.NATS.TLS.CertFile}, {"nats.tls.key_file", cfg.NATS.TLS.KeyFile},
	} {
		if f.path == "" || cfg.NATS.URL == "" {
			continue // the embedded server's connection uses none of them
		}
		if err := readable(f.path); err != nil {
			bad("%s: %v", f.key, err)
		}
	}
	if t := cfg.Ingress.TLS; opts.Ingress && t.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			bad("ingress.tls: %v", err)
		}
	}
	addrs := listenAddrs(cfg, opts)
	for i, a := range addrs {
		for _, b := range addrs[:i] {
			if sameEndpoint(a.addr, b.addr) {
				bad("%s %s: the same address as %s %s", a.key, a.addr, b.key, b.addr)
			}
		}
	}
	return errors.Join(errs...)
}

// checkNATSURL checks one server of nats.url as nats.Connect reads it,
// without showing it (it may hold credentials).
func checkNATSURL(s string) error {
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("scheme %q: want nats, tls, ws or wss", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	return nil
}

// readable reports whether the file at path can be opened for reading.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// listenAddr is an address a part binds, with its configuration key.
type listenAddr struct{ key, addr string }

// listenAddrs returns the addresses the parts in opts bind: the ingress's
// two listeners, or the egress's health listener without ingress, and the
// embedded NATS server's when no nats.url is set.
func listenAddrs(cfg *config.Config, opts Options) []listenAddr {
	var addrs []listenAddr
	if opts.Ingress {
		addrs = append(addrs, listenAddr{"ingress.listen", cfg.Ingress.Listen}, listenAddr{"ingress.admin_listen", cfg.Ingress.AdminListen})
	} else {
		addrs = append(addrs, listenAddr{"egress.listen", cfg.Egress.Listen})
	}
	if cfg.NATS.URL == "" {
		addrs = append(addrs, listenAddr{"nats.embedded.listen", cfg.NATS.Embedded.Listen})
	}
	return addrs
}

// sameEndpoint reports whether binding a and b would collide: the same
// fixed port, on the same host or with either on every interface.
func sameEndpoint(a, b string) bool {
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || ap != bp || anyPort(ap) {
		return false
	}
	return ah == bh || unspecified(ah) || unspecified(bh)
}

// anyPort reports whether port asks for a free port (0, or -1 for the
// embedded NATS server).
func anyPort(port string) bool { return port == "0" || port == "-1" || port == "" }

func unspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// listeners are the HTTP listeners of a bridge, bound before NATS starts.
type listeners struct {
	ingress, admin, health net.Listener
}

// close closes every listener bound.
func (l *listeners) close() {
	for _, ln := range []net.Listener{l.ingress, l.admin, l.health} {
		if ln != nil {
			ln.Close()
		}
	}
}

// bind binds the HTTP listeners of the parts in opts and, with tryNATS
// (before the embedded server starts), tries its address (binding and
// releasing it: the server binds it itself). An address that fails is
// named with its key and the reason; it reports every one, and on error
// nothing stays bound.
func bind(cfg *config.Config, opts Options, tryNATS bool) (*listeners, error) {
	l := &listeners{}
	var errs []error
	for _, a := range listenAddrs(cfg, opts) {
		if a.key == "nats.embedded.listen" {
			if _, port, err := net.SplitHostPort(a.addr); !tryNATS || (err == nil && anyPort(port)) {
				continue
			}
		}
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s %s: %v", ErrPreflight, a.key, a.addr, listenReason(err)))
			continue
		}
		switch a.key {
		case "ingress.listen":
			l.ingress = ln
		case "ingress.admin_listen":
			l.admin = ln
		case "egress.listen":
			l.health = ln
		default:
			ln.Close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// listenReason is the reason of a failed net.Listen without the repeated
// "listen tcp <addr>:" ("bind: address already in use").
func listenReason(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
