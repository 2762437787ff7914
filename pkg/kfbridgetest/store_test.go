package kfbridgetest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestStoreDir: New's NATS server stores in a temporary directory that
// Close removes; Start's stores in the test's t.TempDir().
func TestStoreDir(t *testing.T) {
	b, err := New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.storeDir, "jetstream")); err != nil {
		t.Errorf("New's store: %v, want JetStream data there", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.storeDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New's store %s after Close: %v, want it removed", b.storeDir, err)
	}

	t.Run("Start", func(t *testing.T) {
		mine := t.TempDir()
		b := Start(t)
		if filepath.Dir(b.storeDir) != filepath.Dir(mine) {
			t.Errorf("Start's store %s, want it in the test's temporary directories (%s)", b.storeDir, filepath.Dir(mine))
		}
		if _, err := os.Stat(filepath.Join(b.storeDir, "jetstream")); err != nil {
			t.Errorf("Start's store: %v, want JetStream data there", err)
		}
	})
}
