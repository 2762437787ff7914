// Command egress delivers bots' reply commands from JetStream to WeChat's
// send and typing APIs and publishes their results. It is kfbridge without
// the ingress, for scaling the two apart: run several replicas against the
// shared NATS (nats.url); they share the work and keep each conversation in
// order. /healthz, /readyz and /metrics are served on egress.listen.
// `egress check --config FILE` checks a configuration and starts nothing.
package main

import "github.com/kfbridge/kfbridge/internal/bridge"

func main() {
	bridge.Main("kfbridge-egress", bridge.Options{Egress: true}, nil)
}
