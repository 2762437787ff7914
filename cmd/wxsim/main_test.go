package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "success")
	}))
	t.Cleanup(srv.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)

	tests := []struct {
		name string
		args []string
		want error // nil: success
	}{
		{"no command", nil, errUsage},
		{"unknown command", []string{"serve-all"}, errUsage},
		{"help", []string{"help"}, nil},
		{"push help", []string{"push", "-h"}, flag.ErrHelp},
		{"unknown flag", []string{"push", "--nope"}, errUsage},
		{"stray argument", []string{"push", "--url", srv.URL, "hello"}, errUsage},
		{"bad format", []string{"push", "--format", "yaml"}, wxpush.ErrInvalid},
		{"bad mode", []string{"load", "--mode", "aes"}, wxpush.ErrInvalid},
		{"bad count", []string{"push", "--url", srv.URL, "--count", "-2"}, wxpush.ErrInvalid},
		{"push", []string{"push", "--url", srv.URL, "--kind", "video", "--format", "json", "--mode", "safe", "--bid", "4", "--count", "2", "--repeat", "2"}, nil},
		{"push not delivered", []string{"push", "--url", failing.URL, "--attempts", "2", "--interval", "1ms"}, wxpush.ErrNotDelivered},
		{"load", []string{"load", "--url", srv.URL, "--conns", "2", "--duration", "50ms", "--warmup", "0", "--pushes", "2000", "--json"}, nil},
		{"tail moved to kfctl", []string{"tail"}, errUsage},
		{"push without sim", []string{"push", "--url", srv.URL, "--sim", ""}, nil},
		{"push bad sim", []string{"push", "--url", srv.URL, "--sim", "nowhere"}, wxpush.ErrInvalid},
		{"serve", []string{"serve", "--listen", "127.0.0.1:0", "--apps", "wx1:s1,wx2:s2", "--latency", "10ms", "--fail-rate", "0.1", "--seed", "7", "-v"}, nil},
		{"serve bad apps", []string{"serve", "--listen", "127.0.0.1:0", "--apps", "wx1"}, wxsim.ErrInvalid},
		{"serve bad rate", []string{"serve", "--listen", "127.0.0.1:0", "--http5xx-rate", "1.5"}, wxsim.ErrInvalid},
		{"serve stray argument", []string{"serve", "now"}, errUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			if tt.name != "serve" { // it runs until ctx ends
				ctx = t.Context()
			}
			err := run(ctx, tt.args)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Errorf("run(%q) = %v, want %v", tt.args, err, tt.want)
			}
		})
	}
}
