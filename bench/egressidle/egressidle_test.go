package egressidle

import (
	"fmt"
	"github.com/kfbridge/kfbridge/internal/config"
	"os"
	"testing"
	"time"
)

// TestMain makes the test binary the child server of ServerProcess runs,
// as cmd/egressidle is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ServeArg {
		if err := ServeNATS(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs a short window in both modes and checks the report: the
// default partition count, a window of the asked length, the server's CPU
// only when it is separate, and its message counters seeing at least the
// copies of the counted pull requests.
func TestRun(t *testing.T) {
	for _, server := range []string{ServerInProcess, ServerProcess} {
		t.Run(server, func(t *testing.T) {
			rep, err := Run(t.Context(), Config{Duration: time.Second, Settle: 10 * time.Millisecond, Server: server, Sync: "2m"})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(rep)
			if want := config.Default().Egress.Partitions; rep.Partitions != want || rep.Server != server {
				t.Errorf("partitions %d, server %s; want %d, %s", rep.Partitions, rep.Server, want, server)
			}
			if rep.Window < time.Second || rep.Window > 5*time.Second {
				t.Errorf("window %v; want about 1s", rep.Window)
			}
			if rep.ProcessCPU <= 0 || (server == ServerInProcess) != (rep.ServerCPU == 0) {
				t.Errorf("process cpu %v, server cpu %v", rep.ProcessCPU, rep.ServerCPU)
			}
			if rep.OutMsgs < rep.PullRequests {
				t.Errorf("server sent %d messages, fewer than the %d pull requests copied to the counter", rep.OutMsgs, rep.PullRequests)
			}
		})
	}
	if _, err := Run(t.Context(), Config{Server: "elsewhere"}); err == nil {
		t.Error("Run with server elsewhere: no error")
	}
}
