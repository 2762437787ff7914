package demo

import (
	"fmt"
	"io"
	"os"

	"github.com/kfbridge/kfbridge/internal/config"
)

// Configure adds the demo app to cfg and, unless the configuration names a
// NATS server, stores the embedded server's data in a fresh temporary
// directory. The returned cleanup removes that directory.
func Configure(cfg *config.Config) (cleanup func(), err error) {
	if _, ok := cfg.App(AppID); !ok {
		cfg.Apps = append(cfg.Apps, config.App{
			AppID:          AppID,
			Secret:         Secret,
			Token:          Token,
			EncodingAESKey: EncodingAESKey,
		})
	}
	cleanup = func() {}
	if cfg.NATS.URL == "" {
		dir, err := os.MkdirTemp("", "kfbridge-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo store dir: %w", err)
		}
		cfg.NATS.Embedded.StoreDir = dir
		cleanup = func() { os.RemoveAll(dir) }
	}
	if err := cfg.Validate(); err != nil {
		cleanup()
		return nil, err
	}
	return cleanup, nil
}

// PrintBanner tells a newcomer what runs and what to try next.
func PrintBanner(w io.Writer, ingressAddr, natsURL string) {
	fmt.Fprintf(w, `
kfbridge demo is running.
  ingress   http://%s/wx/%s   (WeChat pushes here)
  nats      %s   (JetStream; bots in any language connect here)
  app       %s   (demo credentials, see internal/demo)

In another terminal:
  go run ./cmd/wxsim tail                       # print every event on wxkf.in.>
  go run ./cmd/wxsim push --kind text --content "hello"
  go run ./cmd/wxsim push --format json --mode safe --kind image --bid 42
  go run ./cmd/wxsim push --kind user_enter_tempsession

Ctrl-C stops it (in-flight pushes finish first).
`, ingressAddr, AppID, natsURL, AppID)
}
