package wxsim

import (
	"context"
	"errors"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// lineWriter sends each Write to a channel.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

func TestRunServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	lines := make(lineWriter, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunServe(ctx, ServeConfig{Listen: "127.0.0.1:0", Sim: SimConfig{Apps: map[string]string{"wxb": "sb", "wxa": "sa"}}}, lines)
	}()
	var line string
	select {
	case line = <-lines:
	case err := <-done:
		t.Fatalf("RunServe: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("RunServe wrote no line")
	}
	m := regexp.MustCompile(`^wxsim serve: WeChat API at (http://127\.0\.0\.1:\d+) \(apps: wxa, wxb; control: /sim/\)\n$`).FindStringSubmatch(line)
	if m == nil {
		cancel()
		<-done
		t.Fatalf("RunServe wrote %q", line)
	}
	c, err := wxapi.New(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StableToken(ctx, "wxa", "sa", false); err != nil {
		t.Errorf("StableToken: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunServe after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunServe did not return after cancel")
	}
}

func TestRunServeInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  ServeConfig
	}{
		{"listen", ServeConfig{Listen: "nowhere"}},
		{"fail rate", ServeConfig{Listen: "127.0.0.1:0", Sim: SimConfig{FailRate: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := RunServe(t.Context(), tt.cfg, io.Discard); !errors.Is(err, ErrInvalid) {
				t.Errorf("RunServe(%+v) = %v, want ErrInvalid", tt.cfg, err)
			}
		})
	}
}

func TestParseApps(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		wantErr  bool
	}{
		{"one", "wx1:s1", map[string]string{"wx1": "s1"}, false},
		{"two with spaces", " wx1:s1 , wx2:s:2 ,", map[string]string{"wx1": "s1", "wx2": "s:2"}, false},
		{"empty", "", map[string]string{}, false},
		{"demo", demo.AppID + ":" + demo.Secret, map[string]string{demo.AppID: demo.Secret}, false},
		{"no secret", "wx1", nil, true},
		{"empty secret", "wx1:", nil, true},
		{"twice", "wx1:a,wx1:b", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseApps(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("ParseApps(%q) = %v, %v; want ErrInvalid", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseApps(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseApps(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
