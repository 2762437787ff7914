package broker

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/kfbridge/kfbridge/internal/config"
)

// StartEmbedded starts an in-process NATS server with JetStream, listening
// on cfg.Listen (loopback by default, so only this host's bots connect) and
// storing data in cfg.StoreDir and syncing it to disk as cfg.Sync says. With cfg.Users it requires authentication
// and returns the credentials of the bridge's own connection (empty
// otherwise). The caller shuts it down.
func StartEmbedded(cfg config.Embedded, logger *slog.Logger) (*server.Server, string, string, error) {
	srvUsers, user, password, err := users(cfg)
	if err != nil {
		return nil, "", "", err
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, "", "", fmt.Errorf("embedded listen %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, "", "", fmt.Errorf("embedded listen %q: %w", cfg.Listen, err)
	}
	opts := &server.Options{
		ServerName: "kfbridge-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		Users:      srvUsers,
	}
	// Sync before acknowledging (always), or every interval: what an OS
	// crash or power loss can take of the pushes already answered.
	if always, every := cfg.SyncPolicy(); always {
		opts.SyncAlways = true
	} else {
		opts.SyncInterval = every
	}
	if len(srvUsers) == 0 && !isLoopback(host) {
		logger.Warn("the embedded NATS server listens beyond loopback without users: anyone who reaches it can read tokens and send as your apps; configure nats.embedded.users", "listen", cfg.Listen)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, "", "", fmt.Errorf("embedded nats: %w", err)
	}
	s.SetLoggerV2(&serverLogger{l: logger.With("component", "nats-server")}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, "", "", ErrNotReady
	}
	return s, user, password, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverLogger adapts nats-server's logger to log/slog.
type serverLogger struct{ l *slog.Logger }

func (s *serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
