package manage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/schemas"
)

// meaning says in words what one of WeChat's errcodes of these APIs
// means, "" when it is not one of them; the error header names it beside
// WeChat's own errmsg.
func meaning(code int) string {
	switch code {
	case -1:
		return "WeChat is busy; retry later"
	case 40001:
		return "the access token or AppSecret is invalid"
	case 40003:
		return "kf_openid is not an openid"
	case 40004:
		return "the medium is not an image"
	case 40005:
		return "the file type is not supported (JPEG, PNG or GIF)"
	case 40007:
		return "media_id is invalid or older than 3 days"
	case 40009:
		return "the image size is invalid (too big?)"
	case 40097:
		return "an argument is out of range"
	case 40101:
		return "a parameter is missing"
	case 41005:
		return "the media data is missing"
	case 45001:
		return "the medium is too large"
	case 45009:
		return "the app's daily API quota is used up"
	case 45011:
		return "the app's per-minute API quota is used up"
	case 45070:
		return "account_name is registered already"
	case 45071:
		return "no such sub-merchant"
	case 45077:
		return "the app has as many sub-merchants as allowed (500)"
	case 45078:
		return "the nickname breaks WeChat's rules"
	case 45079:
		return "the nickname contains a banned word"
	case 45091:
		return "account_name breaks WeChat's rules"
	case 47001:
		return "WeChat could not parse the request"
	case 48001:
		return "the app is not authorized for this API"
	case 65400:
		return "the kf API is not available (for a sub-merchant: registered without transfer_to_commkf)"
	case 65401:
		return "no such kf account"
	case 65405:
		return "the account has as many kf accounts as allowed"
	case 65406:
		return "the kf account exists already"
	case 65407:
		return "the WeChat user is a kf of this mini program already"
	case 65409:
		return "kf_wx is not a valid WeChat id"
	}
	return ""
}

// failure turns any error of a request into the service's answer.
func failure(op string, err error) *Error {
	e := &Error{Op: op}
	var own *Error
	var api *wxapi.APIError
	var tr *wxapi.TransportError
	switch {
	case errors.As(err, &own):
		e.Code, e.Msg = own.Code, own.Msg
		e.Description = op + ": " + own.Msg
	case errors.As(err, &api):
		e.Code, e.Msg = api.Code, api.Msg
		what := ""
		if m := meaning(api.Code); m != "" {
			what = " (" + m + ")"
		}
		e.Description = fmt.Sprintf("%s: WeChat %s answered errcode %d%s: %s", op, api.Op, api.Code, what, api.Msg)
	case errors.As(err, &tr) && tr.Class() == wxapi.ClassMaybeDelivered:
		e.Code = CodeMaybeApplied
		e.Msg = "the request reached WeChat but its answer was lost; it may have taken effect: " + tr.Error()
		e.Description = op + ": " + e.Msg
	case errors.Is(err, token.ErrUnknownApp):
		e.Code, e.Msg = CodeUnknownApp, err.Error()
		e.Description = op + ": " + e.Msg
	default:
		e.Code = CodeUnreachable
		e.Msg = "WeChat could not be reached (safe to retry): " + err.Error()
		e.Description = op + ": " + e.Msg
	}
	return e
}

// friendly returns a readable message for a pattern violation at loc,
// whose pattern says nothing to a human, or "".
func friendly(loc string) string {
	switch loc {
	case "/account_name":
		return "want 6 to 30 characters, each an English letter, a digit or _"
	case "/nickname":
		return "want Chinese characters, English letters and digits only, 4 to 30 wide (a Chinese character counts 2)"
	}
	return ""
}

// violations lists a validation error's violations on one line.
func violations(e *schemas.ValidationError) string {
	var parts []string
	for _, v := range e.Violations {
		msg := v.Message
		if f := friendly(v.Location); f != "" && strings.Contains(msg, "pattern") {
			msg = f
		}
		loc := v.Location
		if loc == "" {
			loc = "body"
		}
		parts = append(parts, loc+": "+msg)
	}
	return strings.Join(parts, "; ")
}
