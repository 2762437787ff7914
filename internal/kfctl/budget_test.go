//go:build ignore

// This is internal/kfctl/budget_test.go of branch i-budget, as is. It needs
// internal/budget and manage.OpBudgetGet/CodeBudgetOff, which are only on
// i-budget, so it is left out of the build here ("ignore", which go mod
// tidy skips too); at the merge of both branches, delete these lines. It
// passes on a merge of i-kfctl and i-budget.

package kfctl

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestBudgetCommand: kfctl budget prints a conversation's live budget (a
// table, or budget.get's reply with --json).
func TestBudgetCommand(t *testing.T) {
	w := newWorld(t)
	tr, err := budget.Open(t.Context(), w.js, budget.Config{Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Truncate(time.Second)
	if _, err := tr.Grant(t.Context(), events.Conversation{AppID: appID, BusinessID: "0", OpenID: user}, events.TriggerMessage, at, "m1"); err != nil {
		t.Fatal(err)
	}
	out := w.ok("budget", "--appid", appID, "--openid", user)
	want := at.Add(48 * time.Hour).UTC().Format(time.RFC3339)
	for _, s := range []string{"REMAINING", "EXPIRES_AT", "5", want, "message"} {
		if !strings.Contains(out, s) {
			t.Errorf("budget printed %q, want %q in it", out, s)
		}
	}
	var b struct {
		Remaining int `json:"remaining"`
	}
	w.okJSON(&b, "budget", "get", "--appid", appID, "--openid", user, "--bid", "0")
	if b.Remaining != 5 {
		t.Errorf("budget --json remaining = %d, want 5", b.Remaining)
	}
	if _, err := w.kfctl("budget", "--appid", appID); !errors.Is(err, ErrUsage) {
		t.Errorf("budget without --openid = %v, want a usage error", err)
	}
}

// TestBudgetCommandOff: with egress.reply_budget off the command fails with
// -1010.
func TestBudgetCommandOff(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Egress.ReplyBudget = config.BudgetOff })
	_, err := w.kfctl("budget", "--appid", appID, "--openid", user)
	if !errors.Is(err, &manage.Error{Code: manage.CodeBudgetOff}) {
		t.Errorf("budget with tracking off = %v, want errcode %d", err, manage.CodeBudgetOff)
	}
}
