package broker

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/kfbridge/kfbridge/internal/config"
)

// StartEmbedded starts an in-process NATS server, listening on cfg.Listen
// (loopback by default, so only this host's bots connect), with JetStream
// in the account [BridgeAccount], storing data in cfg.StoreDir and syncing
// it to disk as cfg.Sync says. With cfg.Users it requires authentication
// and puts each role bot user in an account of its own ([BotAccount],
// [BotImports]); without, every client is the bridge. It returns the
// credentials of the bridge's own connection. The caller shuts it down.
//
// Data of earlier versions, which kept JetStream in the global account,
// moves to the bridge account's directory on the first start.
func StartEmbedded(cfg config.Embedded, logger *slog.Logger) (*server.Server, string, string, error) {
	auth, err := accounts(cfg)
	if err != nil {
		return nil, "", "", err
	}
	if err := migrateGlobalStore(cfg.StoreDir, logger); err != nil {
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
		Accounts:   auth.accounts,
		Users:      auth.users,
		NoAuthUser: auth.noAuthUser,
	}
	// Sync before acknowledging (always), or every interval: what an OS
	// crash or power loss can take of the pushes already answered.
	if always, every := cfg.SyncPolicy(); always {
		opts.SyncAlways = true
	} else {
		opts.SyncInterval = every
	}
	if len(cfg.Users) == 0 && !isLoopback(host) {
		logger.Warn("the embedded NATS server listens beyond loopback without users: anyone who reaches it can read tokens and send as your apps; configure nats.embedded.users", "listen", cfg.Listen)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, "", "", fmt.Errorf("embedded nats: %w", err)
	}
	s.SetLoggerV2(&serverLogger{l: logger.With("component", "nats-server"), ownPasswordOnly: len(cfg.Users) == 0}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, "", "", ErrNotReady
	}
	// JetStream only for the bridge account; bot accounts have none.
	acc, err := s.LookupAccount(BridgeAccount)
	if err == nil {
		err = acc.EnableJetStream(nil, nil)
	}
	if err != nil {
		s.Shutdown()
		return nil, "", "", fmt.Errorf("embedded nats: jetstream for account %s: %w", BridgeAccount, err)
	}
	return s, auth.user, auth.password, nil
}

// migrateGlobalStore moves JetStream data of the global account, where
// versions before the bridge account kept it, to the bridge account's
// directory, unless that already exists.
func migrateGlobalStore(storeDir string, logger *slog.Logger) error {
	if storeDir == "" {
		return nil
	}
	from := filepath.Join(storeDir, server.JetStreamStoreDir, server.DEFAULT_GLOBAL_ACCOUNT)
	to := filepath.Join(storeDir, server.JetStreamStoreDir, BridgeAccount)
	if _, err := os.Stat(from); err != nil {
		return nil // nothing to move
	}
	if _, err := os.Stat(to); err == nil {
		logger.Warn("embedded nats: both the global account's and the bridge account's JetStream data exist; using the bridge account's", "unused", from)
		return nil
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("embedded nats: move JetStream data to account %s: %w", BridgeAccount, err)
	}
	logger.Info("embedded nats: moved JetStream data to the bridge account", "from", from, "to", to)
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverLogger adapts nats-server's logger to log/slog.
type serverLogger struct {
	l *slog.Logger
	// ownPasswordOnly: the only password the server knows is the
	// bridge's random in-memory one (no users configured), so its
	// plaintext-password warning advises nobody and is logged at Debug.
	ownPasswordOnly bool
}

// plaintextWarning is nats-server's warning about passwords that are not
// bcrypt hashes.
const plaintextWarning = "Plaintext passwords detected, use nkeys or bcrypt"

func (s *serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Warnf(format string, v ...any) {
	if s.ownPasswordOnly && format == plaintextWarning {
		s.l.Debug(format)
		return
	}
	s.l.Warn(fmt.Sprintf(format, v...))
}
func (s *serverLogger) Fatalf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Errorf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Debugf(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Tracef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
