package ingress

import (
	"context"
	"net"
	"testing"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// BenchmarkServe drives [Server.Serve] — the ingress's own HTTP server with
// its timeouts and connection cap — over loopback with 64 keep-alive
// connections, reporting pushes/s and latency percentiles.
func BenchmarkServe(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.Ingress.TimestampWindow = 0 })
	pushes := makePushes(b, e.codec, wxcodec.FormatXML, b.N)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			b.Error(err)
		}
	}()
	postAll(b, ln.Addr().String(), pushes)
}
