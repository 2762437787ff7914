package mediafetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
)

// maxRedirects bounds the redirects one download follows.
const maxRedirects = 5

// errTooManyRedirects stops a download after maxRedirects.
var errTooManyRedirects = errors.New("too many redirects")

// Config configures a [Fetcher].
type Config struct {
	// Allow lists destinations allowed although they are not public, for
	// private deployments: CIDR prefixes ("10.0.0.0/8"), single addresses
	// ("127.0.0.1", "::1"), or host names ("images.internal", matched
	// exactly and case-insensitively), whose every address is then allowed.
	// Empty: public addresses only.
	Allow []string
	// DialTimeout bounds one connection attempt. Default 10s.
	DialTimeout time.Duration
}

// Fetcher downloads images from allowed destinations.
type Fetcher struct {
	client  *http.Client
	allow   []netip.Prefix
	hosts   map[string]bool
	special []netip.Prefix
	dialer  net.Dialer
}

// New checks cfg and returns a Fetcher.
func New(cfg Config) (*Fetcher, error) {
	prefixes, hosts, err := ParseAllow(cfg.Allow)
	if err != nil {
		return nil, err
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	f := &Fetcher{allow: prefixes, hosts: hosts, special: specialPrefixes()}
	f.dialer = net.Dialer{Timeout: cfg.DialTimeout, Control: f.control}
	f.client = &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // see the package doc
			DialContext:         f.dial,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errTooManyRedirects
			}
			return nil
		},
	}
	return f, nil
}

// ParseAllow splits allow-list entries into prefixes (CIDRs and single
// addresses) and host names, and reports every entry that is neither.
func ParseAllow(entries []string) ([]netip.Prefix, map[string]bool, error) {
	var prefixes []netip.Prefix
	hosts := map[string]bool{}
	var errs []error
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			// Addresses are unmapped before they are matched
			// ([Fetcher.Allowed]), so an IPv4-mapped prefix
			// (::ffff:10.0.0.0/104) becomes its IPv4 one (10.0.0.0/8).
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			prefixes = append(prefixes, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			a = a.Unmap()
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		if !hostName(e) {
			errs = append(errs, fmt.Errorf("mediafetch: allow entry %q: want a CIDR prefix, an IP address or a host name", e))
			continue
		}
		hosts[strings.ToLower(strings.TrimSuffix(e, "."))] = true
	}
	return prefixes, hosts, errors.Join(errs...)
}

// hostName reports whether s is a DNS host name.
func hostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Allowed reports whether a connection to addr may be made: addr is public,
// or in the allow list.
func (f *Fetcher) Allowed(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range f.allow {
		if p.Contains(addr) {
			return true
		}
	}
	if !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return false // loopback, link-local, multicast, unspecified, private
	}
	for _, p := range f.special {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// specialPrefixes are the global-unicast-looking ranges that are not public
// (IANA special-purpose registries), including every IPv6 prefix that
// embeds an IPv4 address and could reach a private one: IPv4-compatible
// (::/96, e.g. ::127.0.0.1), SIIT IPv4-translated (::ffff:0:0:0/96),
// NAT64 (64:ff9b::/96, 64:ff9b:1::/48; a NAT64 gateway may translate to
// any IPv4 address, so a deployment that fetches through one lists the
// prefix in the allow list), 6to4 (2002::/16) and Teredo (2001::/32, in
// 2001::/23). IPv4-mapped addresses (::ffff:0:0/96) are unmapped before
// any check.
func specialPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"::/96", "::ffff:0:0:0/96",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "fec0::/10",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// dial connects to addr; unless its host is an allowed name, every address
// it resolves to is checked by control as the connection is made.
func (f *Fetcher) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if f.hosts[strings.ToLower(strings.TrimSuffix(host, "."))] {
		d := f.dialer
		d.Control = nil
		return d.DialContext(ctx, network, addr)
	}
	return f.dialer.DialContext(ctx, network, addr)
}

// control refuses a connection to an address that is not allowed.
func (f *Fetcher) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !f.Allowed(ap.Addr()) {
		return ErrNotAllowed
	}
	return nil
}

// Image is a downloaded image.
type Image struct {
	Data []byte
	// ContentType is the image's media type, as declared or sniffed.
	ContentType string
	// Name is the last segment of the URL's path (after redirects), or
	// "image".
	Name string
}

// Fetch downloads the image at rawURL (http or https), of at most limit
// bytes, within ctx. Errors are [*Error].
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, limit int64) (Image, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Image{}, &Error{URL: Redact(rawURL), Permanent: true, Err: fmt.Errorf("%w: not an http(s) URL", ErrUnreachable)}
	}
	fail := func(permanent bool, err error) (Image, error) {
		return Image{}, &Error{URL: Redact(rawURL), Permanent: permanent, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(true, fmt.Errorf("%w: bad request", ErrUnreachable))
	}
	req.Header.Set("Accept", "image/*")
	resp, err := f.client.Do(req)
	if err != nil {
		return fail(transportFailure(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// 408, 425, 429 and 5xx may pass; other statuses will not.
		transient := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooEarly
		return fail(!transient, fmt.Errorf("%w %d", ErrStatus, resp.StatusCode))
	}
	if resp.ContentLength > limit {
		return fail(true, fmt.Errorf("%w: %d bytes, want at most %d", ErrTooLarge, resp.ContentLength, limit))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		perm, cause := transportFailure(err)
		return fail(perm, cause)
	}
	if int64(len(data)) > limit {
		return fail(true, fmt.Errorf("%w: want at most %d bytes", ErrTooLarge, limit))
	}
	ct, ok := imageType(resp.Header.Get("Content-Type"), data)
	if !ok {
		return fail(true, fmt.Errorf("%w: %s", ErrNotImage, ct))
	}
	name := path.Base(resp.Request.URL.Path) // after redirects
	if name == "/" || name == "." || name == "" {
		name = "image"
	}
	return Image{Data: data, ContentType: ct, Name: name}, nil
}

// imageType returns the media type of an image body: the declared one when
// it is image/*, the sniffed one when none (or a generic binary type) was
// declared. ok is false for anything else (the type is returned to say so).
func imageType(declared string, data []byte) (string, bool) {
	mt, _, err := mime.ParseMediaType(declared)
	if declared == "" || err != nil || mt == "application/octet-stream" || mt == "binary/octet-stream" {
		mt = strings.SplitN(http.DetectContentType(data), ";", 2)[0]
	}
	return mt, strings.HasPrefix(mt, "image/")
}

// transportFailure describes a failed request without quoting what the
// other side sent (Go's errors quote a malformed response's first bytes).
func transportFailure(err error) (permanent bool, cause error) {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var tlsErr *tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, ErrNotAllowed):
		return true, ErrNotAllowed
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return false, fmt.Errorf("%w: timed out", ErrUnreachable)
	case errors.Is(err, context.Canceled):
		return false, fmt.Errorf("%w: cancelled", ErrUnreachable)
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return true, fmt.Errorf("%w: host not found", ErrUnreachable)
		}
		return false, fmt.Errorf("%w: host name lookup failed", ErrUnreachable)
	case errors.As(err, &certErr), errors.As(err, &tlsErr):
		return true, fmt.Errorf("%w: TLS handshake failed", ErrUnreachable)
	case errors.Is(err, syscall.ECONNREFUSED):
		return false, fmt.Errorf("%w: connection refused", ErrUnreachable)
	case errors.As(err, &opErr):
		return false, fmt.Errorf("%w: connection failed", ErrUnreachable)
	case errors.Is(err, errTooManyRedirects):
		return true, fmt.Errorf("%w: too many redirects", ErrUnreachable)
	}
	return false, fmt.Errorf("%w: no valid HTTP answer", ErrUnreachable)
}

// Redact returns rawURL without its query, fragment and user info (a
// signed URL's query is a credential of the bot's).
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		if i := strings.IndexAny(rawURL, "?#@"); i >= 0 {
			return rawURL[:i]
		}
		return rawURL
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	return u.String()
}
