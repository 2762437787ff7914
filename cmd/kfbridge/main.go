// Command kfbridge runs the whole bridge in one process: ingress, egress,
// and an embedded NATS server with JetStream unless nats.url names one.
//
//	kfbridge --demo              # zero setup: demo app, simulated WeChat, echo bot
//	kfbridge --config kfbridge.yaml
//	kfbridge check --config kfbridge.yaml   # check it, start nothing
package main

import (
	"flag"
	"os"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/playground"
)

func main() {
	demo := flag.Bool("demo", false, "add the demo app, a simulated WeChat API and an echo bot; embedded NATS in a temporary directory")
	bridge.Main("kfbridge", bridge.Options{Ingress: true, Egress: true}, func(cfg *config.Config, opts *bridge.Options) (func(), error) {
		if !*demo {
			return func() {}, nil
		}
		cfg.Log.Format = "text"
		if _, set := os.LookupEnv("KFBRIDGE_EGRESS_REPLY_BUDGET"); !set {
			// The demo shows the reply budget refusing what WeChat would.
			cfg.Egress.ReplyBudget = config.BudgetEnforce
		}
		pg, err := playground.New(cfg, playground.Options{Logger: cfg.Log.NewLogger(os.Stderr)})
		if err != nil {
			return nil, err
		}
		opts.Extra = pg.Run
		opts.OnReady = func(ends bridge.Endpoints) { pg.PrintBanner(os.Stdout, ends) }
		return pg.Close, nil
	})
}
