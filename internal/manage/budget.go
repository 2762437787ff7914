package manage

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kfbridge/kfbridge/internal/budget"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// budgetRequest is the body of budget.get.
type budgetRequest struct {
	OpenID     string `json:"openid"`
	BusinessID string `json:"business_id"`
}

// budgetReply is the answer of budget.get.
type budgetReply struct {
	ErrCode   int       `json:"errcode"`
	ErrMsg    string    `json:"errmsg"`
	Remaining int       `json:"remaining"`
	ExpiresAt time.Time `json:"expires_at"`
	Trigger   string    `json:"trigger,omitempty"`
}

// budgetGet answers the live reply budget of a conversation from the
// bucket the ingress and egress keep, brought up to date with the
// conversation's latest stored user message as the egress does before a
// send (budget.Tracker.Live); WeChat is not called.
func (s *Service) budgetGet(ctx context.Context, appid string, body []byte) ([]byte, error) {
	if s.cfg.Budget == nil {
		return nil, &Error{Code: CodeBudgetOff, Msg: "reply budget tracking is off (egress.reply_budget: off)"}
	}
	var req budgetRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.BusinessID == "" {
		req.BusinessID = events.MainBusinessID
	}
	conv := events.Conversation{AppID: appid, BusinessID: req.BusinessID, OpenID: req.OpenID}
	if err := conv.Validate(); err != nil {
		return nil, &Error{Code: CodeInvalid, Msg: "invalid conversation", Description: "budget.get: " + err.Error()}
	}
	in, err := s.in.Stream(ctx)
	var st budget.State
	if err == nil {
		st, err = s.cfg.Budget.Live(ctx, in, conv)
	}
	if err != nil {
		return nil, &Error{Code: CodeStore, Msg: "reply budget not readable", Description: "budget.get: " + err.Error()}
	}
	b := st.Budget(s.cfg.Now())
	return json.Marshal(budgetReply{ErrCode: 0, ErrMsg: "ok", Remaining: b.Remaining, ExpiresAt: b.ExpiresAt, Trigger: st.Trigger})
}
