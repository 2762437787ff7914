package mediafetch_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/kfbridge/kfbridge/internal/mediafetch"
)

func pngBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newFetcher(t testing.TB, allow ...string) *mediafetch.Fetcher {
	t.Helper()
	f, err := mediafetch.New(mediafetch.Config{Allow: allow})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRefusesNonPublicDestinations: by default nothing on loopback is
// fetched — by address, by a name that resolves there, or by a redirect
// from an allowed server — and an allow-list entry opens exactly what it
// names.
func TestRefusesNonPublicDestinations(t *testing.T) {
	img := pngBytes(t)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	t.Cleanup(images.Close)
	_, port, _ := net.SplitHostPort(images.Listener.Addr().String())
	// other listens on another loopback address; a redirect leads there.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	other := httptest.NewUnstartedServer(images.Config.Handler)
	other.Listener.Close()
	other.Listener = ln
	other.Start()
	t.Cleanup(other.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/cat.png", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)

	cases := []struct {
		name  string
		allow []string
		url   string
		ok    bool
	}{
		{"loopback by default", nil, images.URL + "/cat.png", false},
		{"name resolving to loopback", nil, "http://localhost:" + port + "/cat.png", false},
		{"allowed address", []string{"127.0.0.1"}, images.URL + "/cat.png", true},
		{"allowed prefix", []string{"127.0.0.0/8"}, images.URL + "/cat.png", true},
		{"allowed host name", []string{"LOCALHOST"}, "http://localhost:" + port + "/cat.png", true},
		{"redirect to a refused address", []string{"127.0.0.1/32"}, redirect.URL + "/x", false},
		{"redirect to an allowed address", []string{"127.0.0.1/32", "127.0.0.2"}, redirect.URL + "/x", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := newFetcher(t, c.allow...).Fetch(t.Context(), c.url, 1<<20)
			if c.ok {
				if err != nil || !bytes.Equal(got.Data, img) || got.ContentType != "image/png" || got.Name != "cat.png" {
					t.Errorf("Fetch(%s) = %q %q, %v; want the image", c.url, got.ContentType, got.Name, err)
				}
				return
			}
			var fe *mediafetch.Error
			if !errors.Is(err, mediafetch.ErrNotAllowed) || !errors.As(err, &fe) || !fe.Permanent {
				t.Errorf("Fetch(%s) = %v, want a permanent ErrNotAllowed", c.url, err)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	f := newFetcher(t)
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true, "1.1.1.1": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "255.255.255.255": false,
		"::1": false, "::": false, "fe80::1": false, "fd00::1": false, "::ffff:127.0.0.1": false,
		"::ffff:10.0.0.1": false, "64:ff9b::a00:1": false, "2002:a00:1::1": false, "224.0.0.1": false,
		// IPv4-compatible (::/96) and SIIT IPv4-translated (::ffff:0:0:0/96)
		// addresses embed an IPv4 address, public or not.
		"::127.0.0.1": false, "::a9fe:a9fe": false, "::8.8.8.8": false,
		"::ffff:0:127.0.0.1": false, "::ffff:0:a9fe:a9fe": false, "::ffff:0:8.8.8.8": false,
	} {
		if got := f.Allowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", addr, got, want)
		}
	}
	if !newFetcher(t, "10.0.0.0/8").Allowed(netip.MustParseAddr("10.9.9.9")) {
		t.Error("an allowed prefix is refused")
	}
	// Allow entries written in IPv4-mapped form match like their IPv4 form.
	for _, entry := range []string{"::ffff:10.0.0.0/104", "::ffff:10.9.9.9"} {
		f := newFetcher(t, entry)
		for _, addr := range []string{"10.9.9.9", "::ffff:10.9.9.9"} {
			if !f.Allowed(netip.MustParseAddr(addr)) {
				t.Errorf("allow %s: Allowed(%s) = false, want true", entry, addr)
			}
		}
		if f.Allowed(netip.MustParseAddr("192.168.1.1")) {
			t.Errorf("allow %s: Allowed(192.168.1.1) = true, want false", entry)
		}
	}
	if _, err := mediafetch.New(mediafetch.Config{Allow: []string{"10.0.0.0/33", "not a host", "ok.example"}}); err == nil ||
		!strings.Contains(err.Error(), "10.0.0.0/33") || !strings.Contains(err.Error(), "not a host") || strings.Contains(err.Error(), "ok.example") {
		t.Errorf("New with bad entries = %v", err)
	}
}

// TestFailures: what a failed download says, whether it is permanent, and
// that it never quotes the response.
func TestFailures(t *testing.T) {
	const secret = "INTERNAL-SECRET-BODY"
	img := pngBytes(t)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>" + secret + "</html>"))
		case "/sniffed":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(img)
		case "/big":
			w.Header().Set("Content-Type", "image/png")
			w.Write(bytes.Repeat(img, 100))
		case "/busy":
			http.Error(w, secret, http.StatusServiceUnavailable)
		case "/limited":
			http.Error(w, secret, http.StatusTooManyRequests)
		default:
			http.Error(w, secret, http.StatusNotFound)
		}
	}))
	t.Cleanup(hs.Close)
	// banner answers with something that is not HTTP, as an SSH or Redis
	// server would; Go's error quotes it.
	banner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { banner.Close() })
	go func() {
		for {
			c, err := banner.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-" + secret + "\r\n"))
			c.Close()
		}
	}()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + refused.Addr().String() + "/x.png"
	refused.Close()

	f := newFetcher(t, "127.0.0.1")
	limit := int64(len(img) * 10)
	cases := []struct {
		url       string
		want      error
		permanent bool
	}{
		{hs.URL + "/missing.png?sig=" + secret, mediafetch.ErrStatus, true},
		{hs.URL + "/html", mediafetch.ErrNotImage, true},
		{hs.URL + "/big", mediafetch.ErrTooLarge, true},
		{hs.URL + "/busy", mediafetch.ErrStatus, false},
		{hs.URL + "/limited", mediafetch.ErrStatus, false},
		{"http://" + banner.Addr().String() + "/x.png", mediafetch.ErrUnreachable, false},
		{refusedURL, mediafetch.ErrUnreachable, false},
	}
	for _, c := range cases {
		_, err := f.Fetch(t.Context(), c.url, limit)
		var fe *mediafetch.Error
		if !errors.Is(err, c.want) || !errors.As(err, &fe) || fe.Permanent != c.permanent {
			t.Errorf("Fetch(%s) = %v (permanent %v), want %v permanent %v", c.url, err, fe != nil && fe.Permanent, c.want, c.permanent)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("Fetch(%s) = %q: quotes the response or the query", c.url, err)
		}
	}
	got, err := f.Fetch(t.Context(), hs.URL+"/sniffed", limit)
	if err != nil || got.ContentType != "image/png" {
		t.Errorf("octet-stream image = %q, %v; want it sniffed as image/png", got.ContentType, err)
	}
}
