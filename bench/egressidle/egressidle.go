// Package egressidle measures issue 11's idle cost: an egress-only kfbridge
// (internal/bridge with the egress and its management service, default
// settings: one partition) that receives no commands, against the WeChat
// simulator on loopback. Over a window it reports the CPU the process used
// (getrusage, user + system, as % of one core), the pull requests the NATS
// server received ($JS.API.CONSUMER.MSG.NEXT.>, counted by a subscription
// of their own) and the messages the server took in and sent out.
//
// The NATS server is the product's embedded one (broker.StartEmbedded,
// nats.embedded.sync as configured). In [ServerInProcess] mode it runs in
// this process, as a one-process deployment does, and the process's CPU
// includes it; in [ServerProcess] mode it runs in a child process (this
// program again, see [ServeNATS]), which reports its own CPU, so the
// bridge's and the server's shares are separate.
//
// # Usage
//
//	rep, err := egressidle.Run(ctx, egressidle.Config{Duration: 30 * time.Second})
//	fmt.Print(rep)
//
// # Concurrency
//
// Run owns everything it starts and stops it before it returns.
//
// # Errors
//
// Run returns start-up errors, the bridge's, and the child server's.
package egressidle

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/broker"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// Where the NATS server runs.
const (
	// ServerInProcess runs it in this process.
	ServerInProcess = "inprocess"
	// ServerProcess runs it in a child process.
	ServerProcess = "process"
)

// pullSubject is where JetStream clients send pull requests.
const pullSubject = "$JS.API.CONSUMER.MSG.NEXT.>"

// Config configures a run. Zero values take the defaults.
type Config struct {
	// Duration is the measured window. Default 30s.
	Duration time.Duration
	// Settle is the wait after the bridge is ready and before the window
	// (the partition consumers start). Default 5s.
	Settle time.Duration
	// Server is ServerInProcess (default) or ServerProcess.
	Server string
	// Sync is nats.embedded.sync. Default "always", as shipped.
	Sync string
	// Logger receives the bridge's logs; nil discards.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 5 * time.Second
	}
	if c.Server == "" {
		c.Server = ServerInProcess
	}
	if c.Sync == "" {
		c.Sync = config.SyncAlways
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Report is what an idle window cost.
type Report struct {
	Server     string
	Partitions int
	Window     time.Duration
	// ProcessCPU is this process's CPU time in the window; ServerCPU the
	// child server's (ServerProcess only, else 0).
	ProcessCPU, ServerCPU time.Duration
	// PullRequests counts the pull requests the server received in the
	// window; PeakPulls the most of them in one wall-clock second.
	PullRequests, PeakPulls int64
	// InMsgs and OutMsgs are the server's message counters' growth (OutMsgs
	// includes the copies of the pull requests sent to the counter).
	InMsgs, OutMsgs int64
}

func pct(d, of time.Duration) float64 { return 100 * d.Seconds() / of.Seconds() }

func rate(n int64, of time.Duration) float64 { return float64(n) / of.Seconds() }

// String formats r on a few lines.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "idle egress, %d partitions, NATS server %s, window %v\n", r.Partitions, r.Server, r.Window.Round(time.Millisecond))
	if r.Server == ServerProcess {
		fmt.Fprintf(&b, "cpu: bridge process %.2f%% of a core, server process %.2f%%, together %.2f%%\n",
			pct(r.ProcessCPU, r.Window), pct(r.ServerCPU, r.Window), pct(r.ProcessCPU+r.ServerCPU, r.Window))
	} else {
		fmt.Fprintf(&b, "cpu: process (bridge and server) %.2f%% of a core\n", pct(r.ProcessCPU, r.Window))
	}
	fmt.Fprintf(&b, "pull requests: %.1f/s (%d, at most %d in one second); server messages in %.1f/s, out %.1f/s\n",
		rate(r.PullRequests, r.Window), r.PullRequests, r.PeakPulls, rate(r.InMsgs, r.Window), rate(r.OutMsgs, r.Window))
	return b.String()
}

// serverStats are a server's counters at one moment.
type serverStats struct {
	CPU     time.Duration `json:"cpu"` // the server process's CPU time
	InMsgs  int64         `json:"in_msgs"`
	OutMsgs int64         `json:"out_msgs"`
}

// natsServer is a running NATS server, here or in a child.
type natsServer struct {
	url   string
	stats func() (serverStats, error)
	stop  func() error
}

// Run starts the server, the simulator and an egress-only bridge, waits
// Settle, and measures the Duration window.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.setDefaults()
	dir, err := os.MkdirTemp("", "kfbridge-egressidle-")
	if err != nil {
		return Report{}, err
	}
	defer os.RemoveAll(dir)
	emb := config.Embedded{Listen: "127.0.0.1:-1", StoreDir: dir, Sync: cfg.Sync}
	var ns *natsServer
	switch cfg.Server {
	case ServerInProcess:
		ns, err = startInProcess(emb, cfg.Logger)
	case ServerProcess:
		ns, err = startChild(ctx, emb)
	default:
		err = fmt.Errorf("server %q: want %s or %s", cfg.Server, ServerInProcess, ServerProcess)
	}
	if err != nil {
		return Report{}, err
	}
	defer ns.stop() //nolint:errcheck // the error of a second stop is the first's

	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{demo.AppID: demo.Secret}})
	if err != nil {
		return Report{}, err
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Report{}, fmt.Errorf("simulator listen: %w", err)
	}
	api := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go api.Serve(apiLn) //nolint:errcheck // ends with Close below
	defer api.Close()

	bc := config.Default()
	bc.NATS.URL = ns.url
	bc.Egress.Listen = "127.0.0.1:0"
	bc.Egress.APIBase = "http://" + apiLn.Addr().String()
	bc.Apps = []config.App{{AppID: demo.AppID, Secret: demo.Secret, Token: demo.Token, EncodingAESKey: demo.EncodingAESKey}}
	if err := bc.Validate(); err != nil {
		return Report{}, err
	}
	rep := Report{Server: cfg.Server, Partitions: bc.Egress.Partitions}
	var measureErr error
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = bridge.Run(runCtx, &bc, bridge.Options{Logger: cfg.Logger, Name: "egressidle", Egress: true,
		Extra: func(ctx context.Context, _ bridge.Endpoints) error {
			defer cancel() // the measurement is over: stop the bridge
			rep, measureErr = measure(ctx, cfg, ns, rep)
			return nil
		}})
	if stopErr := ns.stop(); stopErr != nil {
		err = errors.Join(err, fmt.Errorf("nats server: %w", stopErr))
	}
	return rep, errors.Join(err, measureErr)
}

// measure counts pull requests and takes the CPU and server counters over
// the window, after the settle time.
func measure(ctx context.Context, cfg Config, ns *natsServer, rep Report) (Report, error) {
	nc, err := nats.Connect(ns.url, nats.Name("egressidle-counter"))
	if err != nil {
		return rep, fmt.Errorf("counter: %w", err)
	}
	defer nc.Close()
	var (
		pulls    atomic.Int64
		mu       sync.Mutex
		perSec   = map[int64]int64{} // pull requests by unix second, in the window
		counting atomic.Bool
	)
	sub, err := nc.Subscribe(pullSubject, func(*nats.Msg) {
		if counting.Load() {
			mu.Lock()
			perSec[time.Now().Unix()]++
			mu.Unlock()
		}
		pulls.Add(1)
	})
	if err != nil {
		return rep, fmt.Errorf("counter: %w", err)
	}
	// caughtUp returns once the counter has handled every pull request the
	// server sent it before the call: the server answers the flush after
	// them, and the handler has then counted every one delivered to it.
	// Each window edge waits for it, so a pull request the server counted
	// before an edge is not counted after it.
	caughtUp := func() error {
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("counter: %w", err)
		}
		for {
			n, _, err := sub.Pending()
			if err != nil {
				return fmt.Errorf("counter: %w", err)
			}
			delivered, err := sub.Delivered()
			if err != nil {
				return fmt.Errorf("counter: %w", err)
			}
			if n == 0 && pulls.Load() == delivered {
				return nil
			}
			if err := sleep(ctx, time.Millisecond); err != nil {
				return err
			}
		}
	}
	if err := nc.Flush(); err != nil {
		return rep, fmt.Errorf("counter: %w", err)
	}
	if err := sleep(ctx, cfg.Settle); err != nil {
		return rep, err
	}
	s0, err := ns.stats()
	if err != nil {
		return rep, err
	}
	if err := caughtUp(); err != nil {
		return rep, err
	}
	counting.Store(true)
	cpu0, p0, t0 := processCPU(), pulls.Load(), time.Now()
	if err := sleep(ctx, cfg.Duration); err != nil {
		return rep, err
	}
	cpu1, t1 := processCPU(), time.Now()
	if err := caughtUp(); err != nil {
		return rep, err
	}
	p1 := pulls.Load()
	counting.Store(false)
	mu.Lock()
	for _, n := range perSec {
		rep.PeakPulls = max(rep.PeakPulls, n)
	}
	mu.Unlock()
	s1, err := ns.stats()
	if err != nil {
		return rep, err
	}
	// The server counts a message just after delivering it: the counter
	// may have seen a pull request the server's counters do not hold yet.
	for deadline := time.Now().Add(time.Second); s1.OutMsgs-s0.OutMsgs < p1-p0 && time.Now().Before(deadline); {
		if err := sleep(ctx, time.Millisecond); err != nil {
			return rep, err
		}
		if s1, err = ns.stats(); err != nil {
			return rep, err
		}
	}
	rep.Window = t1.Sub(t0)
	rep.ProcessCPU = cpu1 - cpu0
	if cfg.Server == ServerProcess {
		rep.ServerCPU = s1.CPU - s0.CPU
	}
	rep.PullRequests = p1 - p0
	rep.InMsgs, rep.OutMsgs = s1.InMsgs-s0.InMsgs, s1.OutMsgs-s0.OutMsgs
	return rep, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// processCPU returns the user and system CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0 // Linux and the BSDs always answer for RUSAGE_SELF
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// statsOf reads s's counters (CPU: this process's).
func statsOf(s *server.Server) (serverStats, error) {
	v, err := s.Varz(nil)
	if err != nil {
		return serverStats{}, fmt.Errorf("varz: %w", err)
	}
	return serverStats{CPU: processCPU(), InMsgs: v.InMsgs, OutMsgs: v.OutMsgs}, nil
}

func startInProcess(emb config.Embedded, logger *slog.Logger) (*natsServer, error) {
	s, _, _, err := broker.StartEmbedded(emb, logger)
	if err != nil {
		return nil, err
	}
	return &natsServer{url: s.ClientURL(), stats: func() (serverStats, error) { return statsOf(s) },
		stop: func() error { s.Shutdown(); s.WaitForShutdown(); return nil }}, nil
}

// ServeArg, as the first argument, makes a program that calls
// [ServeNATS] for it the child server of [ServerProcess] mode.
const ServeArg = "-serve-nats"

// ServeNATS runs the embedded NATS server of a [ServerProcess] run: it
// starts it with the store directory and sync policy in args, writes its
// client URL as the first line of out, then answers every line of in with
// its counters as one JSON line, and shuts the server down when in ends.
func ServeNATS(args []string, in io.Reader, out io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("%s: want the store directory and the sync policy, got %q", ServeArg, args)
	}
	s, _, _, err := broker.StartEmbedded(config.Embedded{Listen: "127.0.0.1:-1", StoreDir: args[0], Sync: args[1]},
		slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if _, err := fmt.Fprintln(out, s.ClientURL()); err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		st, err := statsOf(s)
		if err != nil {
			return err
		}
		if err := enc.Encode(st); err != nil {
			return err
		}
	}
	return sc.Err()
}

// startChild runs this program with [ServeArg] as the server.
func startChild(ctx context.Context, emb config.Embedded) (*natsServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, ServeArg, emb.StoreDir, emb.Sync)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", exe, ServeArg, err)
	}
	lines := bufio.NewScanner(stdout)
	var stopped atomic.Bool
	var waitErr error
	stop := func() error {
		if stopped.CompareAndSwap(false, true) {
			stdin.Close()
			waitErr = cmd.Wait()
		}
		return waitErr
	}
	if !lines.Scan() {
		return nil, errors.Join(fmt.Errorf("child server: no URL: %v", lines.Err()), stop())
	}
	url := lines.Text()
	stats := func() (serverStats, error) {
		if _, err := io.WriteString(stdin, "stats\n"); err != nil {
			return serverStats{}, fmt.Errorf("child server: %w", err)
		}
		if !lines.Scan() {
			return serverStats{}, fmt.Errorf("child server: no stats: %v", lines.Err())
		}
		var st serverStats
		if err := json.Unmarshal(lines.Bytes(), &st); err != nil {
			return serverStats{}, fmt.Errorf("child server stats: %w", err)
		}
		return st, nil
	}
	return &natsServer{url: url, stats: stats, stop: stop}, nil
}
