package wxapi

import (
	"context"
	"fmt"
	"net/http"
)

// Paths of the sub-merchant (客服子商户) APIs, all POST with a JSON body
// (wechat-protocol.md §7.3).
const (
	PathBusinessRegister = "/cgi-bin/business/register"
	PathBusinessUpdate   = "/cgi-bin/business/update"
	PathBusinessGet      = "/cgi-bin/business/get"
	PathBusinessList     = "/cgi-bin/business/list"
)

// MaxBusinessPage is the largest count business/list accepts.
const MaxBusinessPage = 200

// maxBusinessPages bounds [Client.ListAllBusinesses] (200 000 sub-merchants,
// far beyond WeChat's limit of 500 unless raised on request).
const maxBusinessPages = 1000

// Business is a sub-merchant as business/get and business/list describe
// it.
type Business struct {
	BusinessID  int64  `json:"business_id"`
	AccountName string `json:"account_name"`
	Nickname    string `json:"nickname"`
	IconURL     string `json:"icon_url"`
}

// RegisterBusinessRequest is the body of business/register.
type RegisterBusinessRequest struct {
	// AccountName names the sub-merchant for good: 6–30 characters of
	// [A-Za-z0-9_], case-sensitive, registered once.
	AccountName string `json:"account_name"`
	// Nickname is shown in the user's chat: 4–30 characters of Chinese,
	// English letters and digits, a Chinese character counting 2.
	Nickname string `json:"nickname"`
	// IconMediaID is a temporary image medium (media/upload).
	IconMediaID string `json:"icon_media_id"`
	// TransferToCommKF forwards the sub-merchant's messages to the common
	// customer-service tools; its business_id then works with the kf
	// account APIs.
	TransferToCommKF *bool `json:"transfer_to_commkf,omitempty"`
}

// UpdateBusinessRequest is the body of business/update; an empty field is
// left unchanged.
type UpdateBusinessRequest struct {
	BusinessID  int64  `json:"business_id"`
	Nickname    string `json:"nickname,omitempty"`
	IconMediaID string `json:"icon_media_id,omitempty"`
}

// GetBusinessRequest is the body of business/get: one of the two.
type GetBusinessRequest struct {
	BusinessID  int64  `json:"business_id,omitempty"`
	AccountName string `json:"account_name,omitempty"`
}

// ListBusinessesRequest is the body of business/list.
type ListBusinessesRequest struct {
	// Offset counts from 0.
	Offset int `json:"offset"`
	// Count is 1 to [MaxBusinessPage].
	Count int `json:"count"`
}

// RegisterBusiness calls business/register and returns the new
// sub-merchant's business_id.
func (c *Client) RegisterBusiness(ctx context.Context, token string, r RegisterBusinessRequest) (int64, error) {
	var ans struct {
		BusinessID int64 `json:"business_id"`
	}
	if err := c.callJSON(ctx, token, http.MethodPost, PathBusinessRegister, nil, r, &ans); err != nil {
		return 0, err
	}
	return ans.BusinessID, nil
}

// UpdateBusiness calls business/update.
func (c *Client) UpdateBusiness(ctx context.Context, token string, r UpdateBusinessRequest) error {
	return c.callJSON(ctx, token, http.MethodPost, PathBusinessUpdate, nil, r, nil)
}

// GetBusiness calls business/get.
func (c *Client) GetBusiness(ctx context.Context, token string, r GetBusinessRequest) (Business, error) {
	var ans struct {
		Info Business `json:"business_info"`
	}
	if err := c.callJSON(ctx, token, http.MethodPost, PathBusinessGet, nil, r, &ans); err != nil {
		return Business{}, err
	}
	return ans.Info, nil
}

// ListBusinesses calls business/list for one page. A page shorter than
// count is the last.
func (c *Client) ListBusinesses(ctx context.Context, token string, r ListBusinessesRequest) ([]Business, error) {
	var ans struct {
		List []Business `json:"list"`
	}
	if err := c.callJSON(ctx, token, http.MethodPost, PathBusinessList, nil, r, &ans); err != nil {
		return nil, err
	}
	return ans.List, nil
}

// ListAllBusinesses pages through business/list, [MaxBusinessPage] at a
// time, until a page comes back short, and returns every sub-merchant
// (never nil). The pages are separate calls: a sub-merchant registered
// meanwhile may be missed, none is listed twice.
func (c *Client) ListAllBusinesses(ctx context.Context, token string) ([]Business, error) {
	all := []Business{}
	seen := map[int64]bool{}
	offset := 0
	for range maxBusinessPages {
		page, err := c.ListBusinesses(ctx, token, ListBusinessesRequest{Offset: offset, Count: MaxBusinessPage})
		if err != nil {
			return nil, err
		}
		offset += len(page)
		for _, b := range page {
			if !seen[b.BusinessID] {
				seen[b.BusinessID] = true
				all = append(all, b)
			}
		}
		if len(page) < MaxBusinessPage {
			return all, nil
		}
	}
	return nil, fmt.Errorf("wxapi: business/list: more than %d pages", maxBusinessPages)
}
