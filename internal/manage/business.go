package manage

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// businessRegister forwards business/register after the nickname check.
func (s *Service) businessRegister(ctx context.Context, appid string, body []byte) ([]byte, error) {
	var req wxapi.RegisterBusinessRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := checkNickname(req.Nickname); err != nil {
		return nil, err
	}
	return s.postJSON(ctx, appid, wxapi.PathBusinessRegister, req)
}

// businessUpdate forwards business/update; an empty nickname is not
// checked (WeChat leaves it unchanged).
func (s *Service) businessUpdate(ctx context.Context, appid string, body []byte) ([]byte, error) {
	var req wxapi.UpdateBusinessRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.Nickname != "" {
		if err := checkNickname(req.Nickname); err != nil {
			return nil, err
		}
	}
	return s.postJSON(ctx, appid, wxapi.PathBusinessUpdate, req)
}

// businessGet forwards business/get.
func (s *Service) businessGet(ctx context.Context, appid string, body []byte) ([]byte, error) {
	var req wxapi.GetBusinessRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	return s.postJSON(ctx, appid, wxapi.PathBusinessGet, req)
}

// listRequest is business.list's body: a page, or all.
type listRequest struct {
	wxapi.ListBusinessesRequest
	All bool `json:"all"`
}

// businessList forwards one page of business/list, or with "all" pages
// through to the end and answers every sub-merchant in one list.
func (s *Service) businessList(ctx context.Context, appid string, body []byte) ([]byte, error) {
	var req listRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if !req.All {
		return s.postJSON(ctx, appid, wxapi.PathBusinessList, req.ListBusinessesRequest)
	}
	var all []wxapi.Business
	err := s.withToken(ctx, appid, func(ctx context.Context, tok string) error {
		var err error
		all, err = s.cfg.API.ListAllBusinesses(ctx, tok)
		return err
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		answer
		List []wxapi.Business `json:"list"`
	}{answer{0, "ok"}, all})
}

// postJSON calls a POST API with req as its body.
func (s *Service) postJSON(ctx context.Context, appid, path string, req any) ([]byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return s.wechat(ctx, appid, http.MethodPost, path, nil, body)
}
