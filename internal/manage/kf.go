package manage

import (
	"context"
	"net/http"

	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// kfRequest is the body of the kf ops that WeChat takes as query
// parameters.
type kfRequest struct {
	KFOpenID   string `json:"kf_openid"`
	BusinessID int64  `json:"business_id"`
}

// kfQuery calls a GET kf API with the body's members as query parameters.
func (s *Service) kfQuery(ctx context.Context, appid, path string, body []byte) ([]byte, error) {
	var req kfRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	return s.wechat(ctx, appid, http.MethodGet, path, wxapi.KFQuery(req.BusinessID, req.KFOpenID), nil)
}

func (s *Service) kfList(ctx context.Context, appid string, body []byte) ([]byte, error) {
	return s.kfQuery(ctx, appid, wxapi.PathKFList, body)
}

func (s *Service) kfOnline(ctx context.Context, appid string, body []byte) ([]byte, error) {
	return s.kfQuery(ctx, appid, wxapi.PathKFOnlineList, body)
}

func (s *Service) kfDel(ctx context.Context, appid string, body []byte) ([]byte, error) {
	return s.kfQuery(ctx, appid, wxapi.PathKFDel, body)
}

func (s *Service) kfSetAdmin(ctx context.Context, appid string, body []byte) ([]byte, error) {
	return s.kfQuery(ctx, appid, wxapi.PathKFSetAdmin, body)
}

func (s *Service) kfCancelAdmin(ctx context.Context, appid string, body []byte) ([]byte, error) {
	return s.kfQuery(ctx, appid, wxapi.PathKFCancelAdmin, body)
}

// kfAdd forwards kfaccount/add (business_id 0 is left out).
func (s *Service) kfAdd(ctx context.Context, appid string, body []byte) ([]byte, error) {
	var req wxapi.AddKFRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	return s.postJSON(ctx, appid, wxapi.PathKFAdd, req)
}
