package ingress

import (
	"testing"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// BenchmarkServe drives [Server.Serve] — the ingress's own HTTP server with
// its timeouts and connection cap — over loopback with 64 keep-alive
// connections, reporting pushes/s and latency percentiles.
func BenchmarkServe(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.Ingress.TimestampWindow = 0 })
	pushes := makePushes(b, e.codec, wxcodec.FormatXML, b.N)
	postAll(b, serveLoopback(b, e.srv.Serve), pushes)
}
