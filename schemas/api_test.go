package schemas_test

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/kfbridge/kfbridge/schemas"
)

// apiSchemas are the management service's schemas.
var apiSchemas = []string{
	schemas.APIBusinessRegisterRequest, schemas.APIBusinessRegisterReply,
	schemas.APIBusinessUpdateRequest, schemas.APIBusinessUpdateReply,
	schemas.APIBusinessGetRequest, schemas.APIBusinessGetReply,
	schemas.APIBusinessListRequest, schemas.APIBusinessListReply,
	schemas.APIKFListRequest, schemas.APIKFListReply,
	schemas.APIKFOnlineRequest, schemas.APIKFOnlineReply,
	schemas.APIKFAddRequest, schemas.APIKFAddReply,
	schemas.APIKFDelRequest, schemas.APIKFDelReply,
	schemas.APIKFSetAdminRequest, schemas.APIKFSetAdminReply,
	schemas.APIKFCancelAdminRequest, schemas.APIKFCancelAdminReply,
	schemas.APIMediaUploadRequest, schemas.APIMediaUploadReply,
	schemas.APIMediaGetRequest, schemas.APIMediaGetReply,
	schemas.APIBudgetGetRequest, schemas.APIBudgetGetReply,
	schemas.APIErrorReply,
}

func TestValidateAPIRequests(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name, schema, doc string
		want              string // "" valid, else a part of the violation
	}{
		{"budget.get", schemas.APIBudgetGetRequest, `{"openid":"o1","business_id":"0"}`, ""},
		{"budget.get without openid", schemas.APIBudgetGetRequest, `{"business_id":"0"}`, "openid"},
		{"budget.get numeric business_id", schemas.APIBudgetGetRequest, `{"openid":"o1","business_id":0}`, "business_id"},
		{"budget.get dotted openid", schemas.APIBudgetGetRequest, `{"openid":"a.b"}`, "openid"},
		{"register", schemas.APIBusinessRegisterRequest, `{"account_name":"apple_shop","nickname":"苹果","icon_media_id":"m"}`, ""},
		{"register compat ideograph", schemas.APIBusinessRegisterRequest, `{"account_name":"apple_shop","nickname":"豈豈","icon_media_id":"m"}`, ""},
		{"register short name", schemas.APIBusinessRegisterRequest, `{"account_name":"apple","nickname":"苹果","icon_media_id":"m"}`, "/account_name"},
		{"register dash", schemas.APIBusinessRegisterRequest, `{"account_name":"apple-shop","nickname":"苹果","icon_media_id":"m"}`, "/account_name"},
		{"register nickname space", schemas.APIBusinessRegisterRequest, `{"account_name":"apple_shop","nickname":"ab cd","icon_media_id":"m"}`, "/nickname"},
		{"register nickname one char", schemas.APIBusinessRegisterRequest, `{"account_name":"apple_shop","nickname":"苹","icon_media_id":"m"}`, "/nickname"},
		{"register no icon", schemas.APIBusinessRegisterRequest, `{"account_name":"apple_shop","nickname":"苹果"}`, "icon_media_id"},
		{"register extra", schemas.APIBusinessRegisterRequest, `{"account_name":"apple_shop","nickname":"苹果","icon_media_id":"m","business_id":1}`, "business_id"},
		{"update empty nickname", schemas.APIBusinessUpdateRequest, `{"business_id":1,"nickname":""}`, ""},
		{"update id 0", schemas.APIBusinessUpdateRequest, `{"business_id":0}`, "/business_id"},
		{"update id string", schemas.APIBusinessUpdateRequest, `{"business_id":"1"}`, "/business_id"},
		{"get both", schemas.APIBusinessGetRequest, `{"business_id":1,"account_name":"apple_shop"}`, "want exactly one of: by business_id, by account_name"},
		{"get neither", schemas.APIBusinessGetRequest, `{}`, "got none"},
		{"list page", schemas.APIBusinessListRequest, `{"offset":0,"count":200}`, ""},
		{"list all", schemas.APIBusinessListRequest, `{"all":true}`, ""},
		{"list 201", schemas.APIBusinessListRequest, `{"offset":0,"count":201}`, "/count"},
		{"list all and page", schemas.APIBusinessListRequest, `{"all":true,"offset":0,"count":1}`, "want exactly one of"},
		{"list all false", schemas.APIBusinessListRequest, `{"all":false}`, "/all"},
		{"kf list empty", schemas.APIKFListRequest, `{}`, ""},
		{"kf list negative", schemas.APIKFListRequest, `{"business_id":-1}`, "/business_id"},
		{"kf add empty", schemas.APIKFAddRequest, `{"kf_wx":""}`, "/kf_wx"},
		{"kf del no openid", schemas.APIKFDelRequest, `{"business_id":1}`, "kf_openid"},
		{"upload data", schemas.APIMediaUploadRequest, `{"data":"AAAA"}`, ""},
		{"upload ftp", schemas.APIMediaUploadRequest, `{"url":"ftp://example.com/x.png"}`, "/url"},
		{"upload two sources", schemas.APIMediaUploadRequest, `{"url":"https://example.com/x.png","object":"x"}`, "want exactly one of: by data, by url, by object"},
		{"upload video", schemas.APIMediaUploadRequest, `{"type":"video","object":"x"}`, "/type"},
		{"get media", schemas.APIMediaGetRequest, `{"media_id":"m"}`, ""},
		{"get media empty", schemas.APIMediaGetRequest, `{"media_id":""}`, "/media_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Validate(tt.schema, []byte(tt.doc))
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate(%s, %s) = %v, want nil", tt.schema, tt.doc, err)
				}
				return
			}
			var verr *schemas.ValidationError
			if !errors.As(err, &verr) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%s, %s) = %v, want a violation mentioning %q", tt.schema, tt.doc, err, tt.want)
			}
		})
	}
}

func TestValidateAPIReplies(t *testing.T) {
	v := newValidator(t)
	if err := v.Validate(schemas.APIErrorReply, []byte(`{"errcode":0,"errmsg":"ok"}`)); err == nil {
		t.Error("an error reply with errcode 0 validated")
	}
	if err := v.Validate(schemas.APIBusinessRegisterReply, []byte(`{"errcode":45070,"errmsg":"x","business_id":1}`)); err == nil {
		t.Error("a success reply with errcode 45070 validated")
	}
	if err := v.Validate(schemas.APIKFListReply, []byte(`{"errcode":0,"errmsg":"ok","kf_list":[],"new_field":1}`)); err != nil {
		t.Errorf("a reply with a field WeChat added: %v", err)
	}
}

// apiChannels are the management channels of asyncapi.yaml; the replies'
// address is null (the requester's inbox).
var apiChannels = map[string]string{
	"management":        "wxkf.api.{appid}.{op}",
	"managementReplies": "",
}

// apiOperations are the management operations of asyncapi.yaml.
var apiOperations = map[string]string{
	"businessRegister": "send", "businessUpdate": "send", "businessGet": "send", "businessList": "send",
	"kfList": "send", "kfOnline": "send", "kfAdd": "send", "kfDel": "send", "kfSetAdmin": "send", "kfCancelAdmin": "send",
	"mediaUpload": "send", "mediaGet": "send", "budgetGet": "send",
}

// apiPayloadSchema returns the schema of an AsyncAPI message whose payload
// refers to a file under api/.
func apiPayloadSchema(m map[string]any) (string, bool) {
	p, _ := m["payload"].(map[string]any)
	s, _ := p["schema"].(map[string]any)
	ref, _ := s["$ref"].(string)
	name, ok := strings.CutPrefix(ref, "./")
	if !ok || !strings.HasPrefix(name, "api/") {
		return "", false
	}
	return name, true
}

// TestAsyncAPIManagement checks that every management op has its request
// and reply messages, and that the op enum lists exactly them.
func TestAsyncAPIManagement(t *testing.T) {
	b, err := fs.ReadFile(schemas.FS(), "asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	enum, _ := resolve(doc, "/channels/management/parameters/op/enum")
	var ops []string
	for _, o := range enum.([]any) {
		ops = append(ops, o.(string))
	}
	var fromSchemas []string
	for _, name := range apiSchemas {
		if op, ok := strings.CutSuffix(strings.TrimPrefix(name, "api/"), ".request.schema.json"); ok {
			fromSchemas = append(fromSchemas, op)
		}
	}
	slices.Sort(ops)
	slices.Sort(fromSchemas)
	if diff := cmp.Diff(fromSchemas, ops); diff != "" {
		t.Errorf("op enum (-schemas +asyncapi):\n%s", diff)
	}
	messages, _ := resolve(doc, "/components/messages")
	refs := map[string]bool{}
	for _, m := range messages.(map[string]any) {
		if s, ok := apiPayloadSchema(m.(map[string]any)); ok {
			refs[s] = true
		}
	}
	for _, name := range apiSchemas {
		if !refs[name] {
			t.Errorf("no AsyncAPI message has the payload %s", name)
		}
	}
}
