// Command kfctl is the operator tool of kfbridge: sub-merchants,
// customer-service accounts and media (through the management service of
// every egress), test messages, the dead-letter stream and status, over
// NATS. Run `kfctl help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kfbridge/kfbridge/internal/kfctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := kfctl.Run(ctx, kfctl.Config{Args: os.Args[1:], Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv})
	stop()
	switch {
	case err == nil:
	case errors.Is(err, kfctl.ErrUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	default:
		msg := err.Error()
		if !strings.HasPrefix(msg, "kfctl:") {
			msg = "kfctl: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}
