package wxapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Paths of the customer-service (kf) account APIs of mini programs. The
// add API is POST with a JSON body, the others GET with query parameters.
// Note that the kfaccount paths have no /cgi-bin prefix.
const (
	PathKFList        = "/cgi-bin/customservice/getkflist"
	PathKFOnlineList  = "/cgi-bin/customservice/getonlinekflist"
	PathKFAdd         = "/customservice/kfaccount/add"
	PathKFDel         = "/customservice/kfaccount/del"
	PathKFSetAdmin    = "/customservice/kfaccount/setadmin"
	PathKFCancelAdmin = "/customservice/kfaccount/canceladmin"
)

// KF is a customer-service account as getkflist lists it.
type KF struct {
	KFAccount    string `json:"kf_account"`
	KFHeadImgURL string `json:"kf_headimgurl"`
	KFID         string `json:"kf_id"`
	KFNick       string `json:"kf_nick"`
	KFWX         string `json:"kf_wx"`
	KFOpenID     string `json:"kf_openid"`
}

// OnlineKF is a customer-service account as getonlinekflist lists it.
type OnlineKF struct {
	KFAccount string `json:"kf_account"`
	// Status 1 is "online on the web tool".
	Status   int    `json:"status"`
	KFID     string `json:"kf_id"`
	KFOpenID string `json:"kf_openid"`
}

// AddKFRequest is the body of kfaccount/add.
type AddKFRequest struct {
	// KFWX is the WeChat id of the new agent.
	KFWX string `json:"kf_wx"`
	// BusinessID is the sub-merchant the agent serves; 0 (omitted) for
	// the main account.
	BusinessID int64 `json:"business_id,omitempty"`
}

// KFQuery returns the query parameters of the GET kf APIs: kf_openid when
// not "", business_id when not 0.
func KFQuery(businessID int64, kfOpenID string) url.Values {
	q := url.Values{}
	if kfOpenID != "" {
		q.Set("kf_openid", kfOpenID)
	}
	if businessID != 0 {
		q.Set("business_id", strconv.FormatInt(businessID, 10))
	}
	return q
}

// KFList calls getkflist for the main account (businessID 0) or a
// sub-merchant.
func (c *Client) KFList(ctx context.Context, token string, businessID int64) ([]KF, error) {
	var ans struct {
		List []KF `json:"kf_list"`
	}
	if err := c.callJSON(ctx, token, http.MethodGet, PathKFList, KFQuery(businessID, ""), nil, &ans); err != nil {
		return nil, err
	}
	return ans.List, nil
}

// OnlineKFList calls getonlinekflist.
func (c *Client) OnlineKFList(ctx context.Context, token string, businessID int64) ([]OnlineKF, error) {
	var ans struct {
		List []OnlineKF `json:"kf_online_list"`
	}
	if err := c.callJSON(ctx, token, http.MethodGet, PathKFOnlineList, KFQuery(businessID, ""), nil, &ans); err != nil {
		return nil, err
	}
	return ans.List, nil
}

// AddKF calls kfaccount/add.
func (c *Client) AddKF(ctx context.Context, token string, r AddKFRequest) error {
	return c.callJSON(ctx, token, http.MethodPost, PathKFAdd, nil, r, nil)
}

// DelKF calls kfaccount/del.
func (c *Client) DelKF(ctx context.Context, token string, businessID int64, kfOpenID string) error {
	return c.callJSON(ctx, token, http.MethodGet, PathKFDel, KFQuery(businessID, kfOpenID), nil, nil)
}

// SetKFAdmin calls kfaccount/setadmin.
func (c *Client) SetKFAdmin(ctx context.Context, token string, businessID int64, kfOpenID string) error {
	return c.callJSON(ctx, token, http.MethodGet, PathKFSetAdmin, KFQuery(businessID, kfOpenID), nil, nil)
}

// CancelKFAdmin calls kfaccount/canceladmin.
func (c *Client) CancelKFAdmin(ctx context.Context, token string, businessID int64, kfOpenID string) error {
	return c.callJSON(ctx, token, http.MethodGet, PathKFCancelAdmin, KFQuery(businessID, kfOpenID), nil, nil)
}
