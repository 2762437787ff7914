package kfctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestBudgetOutput: kfctl budget's table (the request needs budget.get,
// see budget_test.go).
func TestBudgetOutput(t *testing.T) {
	var out bytes.Buffer
	r := &run{g: &globals{}, out: &out}
	reply := json.RawMessage(`{"errcode":0,"errmsg":"ok","remaining":3,"expires_at":"2026-03-03T12:00:00+08:00","trigger":"message"}`)
	if err := renderBudget(r, reply); err != nil {
		t.Fatal(err)
	}
	want := "REMAINING  EXPIRES_AT            TRIGGER\n3          2026-03-03T04:00:00Z  message\n"
	if out.String() != want {
		t.Errorf("budget printed\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	if err := renderBudget(r, json.RawMessage(`{"errcode":0,"errmsg":"ok","remaining":0}`)); err != nil || !strings.Contains(out.String(), "0          -           -") {
		t.Errorf("empty budget printed %q (%v)", out.String(), err)
	}
	for _, args := range [][]string{{"budget", "--appid", appID}, {"budget", "get", "--openid", user}, {"budget", "extra", "--appid", appID, "--openid", user}} {
		if err := Run(t.Context(), Config{Args: append([]string{"--nats", "nats://127.0.0.1:1"}, args...)}); !errors.Is(err, ErrUsage) {
			t.Errorf("kfctl %q = %v, want ErrUsage", args, err)
		}
	}
}
