package manage

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// The ops of the management service, the last two tokens of its subjects
// wxkf.api.<appid>.<op>.
const (
	OpBusinessRegister = "business.register"
	OpBusinessUpdate   = "business.update"
	OpBusinessGet      = "business.get"
	OpBusinessList     = "business.list"
	OpKFList           = "kf.list"
	OpKFOnline         = "kf.online"
	OpKFAdd            = "kf.add"
	OpKFDel            = "kf.del"
	OpKFSetAdmin       = "kf.setadmin"
	OpKFCancelAdmin    = "kf.canceladmin"
	OpMediaUpload      = "media.upload"
	OpMediaGet         = "media.get"
	OpBudgetGet        = "budget.get"
)

// Names of the micro service.
const (
	// ServiceName is the micro service's name (nats micro info
	// kfbridge-manage).
	ServiceName = "kfbridge-manage"
	// ServiceVersion is the version of the request and reply contract.
	ServiceVersion = "1.0.0"
	// QueueGroup is the queue group of every endpoint: one replica answers
	// each request.
	QueueGroup = "kfbridge-manage"
	// SubjectPrefix starts every request subject: wxkf.api.<appid>.<op>.
	SubjectPrefix = "wxkf.api."
)

// operation is one op: its schemas and its handler, which gets the
// validated body and returns the reply body.
type operation struct {
	name           string
	request, reply string
	handle         func(s *Service, ctx context.Context, appid string, body []byte) ([]byte, error)
}

// operations returns the ops in the order they are documented.
func operations() []operation {
	return []operation{
		{OpBusinessRegister, schemas.APIBusinessRegisterRequest, schemas.APIBusinessRegisterReply, (*Service).businessRegister},
		{OpBusinessUpdate, schemas.APIBusinessUpdateRequest, schemas.APIBusinessUpdateReply, (*Service).businessUpdate},
		{OpBusinessGet, schemas.APIBusinessGetRequest, schemas.APIBusinessGetReply, (*Service).businessGet},
		{OpBusinessList, schemas.APIBusinessListRequest, schemas.APIBusinessListReply, (*Service).businessList},
		{OpKFList, schemas.APIKFListRequest, schemas.APIKFListReply, (*Service).kfList},
		{OpKFOnline, schemas.APIKFOnlineRequest, schemas.APIKFOnlineReply, (*Service).kfOnline},
		{OpKFAdd, schemas.APIKFAddRequest, schemas.APIKFAddReply, (*Service).kfAdd},
		{OpKFDel, schemas.APIKFDelRequest, schemas.APIKFDelReply, (*Service).kfDel},
		{OpKFSetAdmin, schemas.APIKFSetAdminRequest, schemas.APIKFSetAdminReply, (*Service).kfSetAdmin},
		{OpKFCancelAdmin, schemas.APIKFCancelAdminRequest, schemas.APIKFCancelAdminReply, (*Service).kfCancelAdmin},
		{OpMediaUpload, schemas.APIMediaUploadRequest, schemas.APIMediaUploadReply, (*Service).mediaUpload},
		{OpMediaGet, schemas.APIMediaGetRequest, schemas.APIMediaGetReply, (*Service).mediaGet},
		{OpBudgetGet, schemas.APIBudgetGetRequest, schemas.APIBudgetGetReply, (*Service).budgetGet},
	}
}

// Ops returns every op, in the order they are documented.
func Ops() []string {
	var out []string
	for _, o := range operations() {
		out = append(out, o.name)
	}
	return out
}

// RequestSchema and ReplySchema return the schema names (for
// [schemas.Validator]) of op's request and successful reply, "" for an
// unknown op.
func RequestSchema(op string) string {
	o, _ := lookup(op)
	return o.request
}

// ReplySchema: see [RequestSchema].
func ReplySchema(op string) string {
	o, _ := lookup(op)
	return o.reply
}

func lookup(op string) (operation, bool) {
	ops := operations()
	i := slices.IndexFunc(ops, func(o operation) bool { return o.name == op })
	if i < 0 {
		return operation{}, false
	}
	return ops[i], true
}

// Subject returns wxkf.api.<appid>.<op>, or an error for an appid that is
// not a subject token ([events.ErrToken]) or an unknown op
// ([ErrUnknownOp]).
func Subject(appid, op string) (string, error) {
	if err := events.CheckToken("appid", appid); err != nil {
		return "", err
	}
	if _, ok := lookup(op); !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownOp, op)
	}
	return SubjectPrefix + appid + "." + op, nil
}

// appidOf returns the appid token of a request subject.
func appidOf(subject string) string {
	rest, _ := strings.CutPrefix(subject, SubjectPrefix)
	appid, _, _ := strings.Cut(rest, ".")
	return appid
}

// endpointName is the micro endpoint name of op (names allow no dots).
func endpointName(op string) string { return strings.ReplaceAll(op, ".", "_") }
