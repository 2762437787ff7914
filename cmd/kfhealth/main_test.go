package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.Write([]byte("ready"))
		default:
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		url  string
		want error
	}{
		{"ready", srv.URL + "/readyz", nil},
		{"not ready", srv.URL + "/other", errUnhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := check(t.Context(), srv.Client(), tt.url); !errors.Is(err, tt.want) {
				t.Errorf("check(%q) = %v, want %v", tt.url, err, tt.want)
			}
		})
	}
	if err := check(t.Context(), srv.Client(), "http://127.0.0.1:1/readyz"); err == nil {
		t.Errorf("check(closed port) = nil, want an error")
	}
}
