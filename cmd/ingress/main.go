// Command ingress receives WeChat's pushes over HTTP and publishes them to
// JetStream. It is kfbridge without the egress, for scaling the two apart;
// point nats.url at the shared NATS (with it empty, it runs an embedded one).
// `ingress check --config FILE` checks a configuration and starts nothing.
package main

import "github.com/kfbridge/kfbridge/internal/bridge"

func main() {
	bridge.Main("kfbridge-ingress", bridge.Options{Ingress: true}, nil)
}
