package wxsim

import (
	"fmt"
	"math/rand/v2"
)

// WeChat error codes the simulated API answers (wechat-protocol.md §9 and
// WeChat's global return-code list).
const (
	CodeSystemError       = -1    // system error (injected fault)
	CodeOK                = 0     // ok
	CodeInvalidCredential = 40001 // AppSecret wrong; token unknown, superseded or revoked
	CodeInvalidGrantType  = 40002 // grant_type is not client_credential
	CodeInvalidOpenID     = 40003 // touser is no user of this app
	CodeInvalidMediaType  = 40004 // upload type is not image
	CodeInvalidFileType   = 40005 // uploaded bytes are not JPEG, PNG or GIF
	CodeInvalidMediaID    = 40007 // media_id unknown, of another app, or expired
	CodeInvalidMsgType    = 40008 // msgtype not one of the four a mini program sends
	CodeInvalidImageSize  = 40009 // image empty or over 2 MB
	CodeInvalidAppID      = 40013 // unknown AppID
	CodeInvalidToken      = 40014 // access_token not of the shape WeChat issues
	CodeInvalidURL        = 40066 // no such API path
	CodeInvalidArgs       = 40097 // a query or body value out of range (list count, business_id)
	CodeMissingParameter  = 40101 // e.g. business/send without businessid
	CodeTokenMissing      = 41001 // no access_token query parameter
	CodeAppIDMissing      = 41002 // no appid
	CodeSecretMissing     = 41004 // no secret
	CodeMediaDataMissing  = 41005 // upload without a "media" part
	CodeMediaIDMissing    = 41006 // media/get without media_id
	CodeTokenExpired      = 42001 // access_token past its expires_in
	CodeRequireGET        = 43001 // wrong method on a GET API
	CodeRequirePOST       = 43002 // wrong method on a POST API
	CodeEmptyPostData     = 44002 // empty body
	CodeEmptyContent      = 44004 // text without content
	CodeMediaTooLarge     = 45001 // upload body far over any limit
	CodeContentTooLong    = 45002 // text over 2048 bytes, or body over 1 MiB
	CodeTitleTooLong      = 45003 // link title over 256 bytes
	CodeDescTooLong       = 45004 // link description over 1024 bytes
	CodeDailyQuota        = 45009 // daily quota used up
	CodeMinuteQuota       = 45011 // per-minute quota used up
	CodeOutOfWindow       = 45015 // no open send window
	CodeOutOfCount        = 45047 // send window's count used up
	CodeBusinessExists    = 45070 // business/register: account_name already registered
	CodeNoSuchBusiness    = 45071 // business_id / account_name of no sub-merchant
	CodeInvalidCommand    = 45072 // typing command not Typing/CancelTyping
	CodeBusinessLimit     = 45077 // the app has its 500 sub-merchants
	CodeBadNickname       = 45078 // sub-merchant nickname breaks the rules
	CodeNicknameBanned    = 45079 // sub-merchant nickname has a banned word
	CodeTypingNeedsMsg    = 45080 // typing without a user interaction in the last 30 s
	CodeAlreadyTyping     = 45081 // typing while the typing state is active
	CodeBadAccountName    = 45091 // account_name breaks the rules
	CodeDataFormat        = 47001 // malformed JSON, unknown field, wrong type
	CodeKFUnavailable     = 65400 // kf API on a sub-merchant without transfer_to_commkf
	CodeInvalidKF         = 65401 // kf_openid of no kf account of this account
	CodeKFLimit           = 65405 // the account has its 100 kf accounts
	CodeKFExists          = 65406 // kf_wx is a kf account of this account already
	CodeKFOfThisApp       = 65407 // kf_wx is a kf account of another account of this app
	CodeInvalidKFWX       = 65409 // kf_wx is not a WeChat id
)

// CodeHTTP502 is the key under which [CallStats] counts injected HTTP 502
// answers. It is not a WeChat errcode.
const CodeHTTP502 = -502

// errMsgs are the errmsg texts, as WeChat words them (§9; invented where
// §9 has none).
var errMsgs = map[int]string{
	CodeSystemError:       "system error",
	CodeOK:                "ok",
	CodeInvalidCredential: "invalid credential, access_token is invalid or not latest",
	CodeInvalidGrantType:  "invalid grant_type",
	CodeInvalidOpenID:     "invalid openid",
	CodeInvalidMediaType:  "invalid media type",
	CodeInvalidFileType:   "invalid file type",
	CodeInvalidMediaID:    "invalid media_id",
	CodeInvalidMsgType:    "invalid message type",
	CodeInvalidImageSize:  "invalid image size",
	CodeInvalidAppID:      "invalid appid",
	CodeInvalidToken:      "invalid access_token",
	CodeInvalidURL:        "invalid url",
	CodeInvalidArgs:       "invalid args",
	CodeMissingParameter:  "missing parameter",
	CodeTokenMissing:      "access_token missing",
	CodeAppIDMissing:      "appid missing",
	CodeSecretMissing:     "appsecret missing",
	CodeMediaDataMissing:  "media data missing",
	CodeMediaIDMissing:    "media_id missing",
	CodeTokenExpired:      "access_token expired",
	CodeRequireGET:        "require GET method",
	CodeRequirePOST:       "require POST method",
	CodeEmptyPostData:     "empty post data",
	CodeEmptyContent:      "empty content",
	CodeMediaTooLarge:     "media size out of limit",
	CodeContentTooLong:    "content size out of limit",
	CodeTitleTooLong:      "title size out of limit",
	CodeDescTooLong:       "description size out of limit",
	CodeDailyQuota:        "reach max api daily quota limit",
	CodeMinuteQuota:       "api minute-quota reach limit",
	CodeOutOfWindow:       "response out of time limit or subscription is canceled",
	CodeOutOfCount:        "out of response count limit",
	CodeBusinessExists:    "account_name already exists",
	CodeNoSuchBusiness:    "business not exist",
	CodeInvalidCommand:    "invalid command",
	CodeBusinessLimit:     "business count reach limit",
	CodeBadNickname:       "invalid nickname",
	CodeNicknameBanned:    "nickname contains forbidden words",
	CodeTypingNeedsMsg:    "need sending message to user, or recving msg from user in the last 30 seconds",
	CodeAlreadyTyping:     "already in typing state",
	CodeBadAccountName:    "invalid account_name",
	CodeDataFormat:        "data format error",
	CodeKFUnavailable:     "api unavailable, customer service not enabled for this business",
	CodeInvalidKF:         "invalid kf account",
	CodeKFLimit:           "kf account count reach limit",
	CodeKFExists:          "kf account exists",
	CodeKFOfThisApp:       "kf_wx is already a kf of this mini program",
	CodeInvalidKFWX:       "invalid kf_wx",
}

// errMsg returns WeChat's errmsg for code: "ok" for 0, else the text with a
// request id suffix (" rid: …") as WeChat appends it.
func errMsg(code int) string {
	msg, ok := errMsgs[code]
	if !ok {
		msg = "unknown error"
	}
	if code == CodeOK {
		return msg
	}
	return fmt.Sprintf("%s rid: %08x-%08x-%08x", msg, rand.Uint32(), rand.Uint32(), rand.Uint32())
}

// apiAnswer is WeChat's common answer body.
type apiAnswer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}
