package events

// Headers of a dead letter: a send command that failed for good, kept as
// the bot sent it (body and headers) in the stream [DeadLetterStreamName]
// on [DeadLetterSubject], with why in these headers. Its Nats-Msg-Id is
// its result's: <appid>:<command id>, with a suffix for a command that does
// not own its id (see [NewResult]).
const (
	// HeaderCommandID is the command's id.
	HeaderCommandID = "Kfbridge-Command-Id"
	// HeaderReason is the failure's reason, as [ResultData.Reason].
	HeaderReason = "Kfbridge-Reason"
	// HeaderErrCode is the decimal errcode, as [ResultData.ErrCode].
	HeaderErrCode = "Kfbridge-Errcode"
	// HeaderErrMsg is the errmsg, as [ResultData.ErrMsg].
	HeaderErrMsg = "Kfbridge-Errmsg"
	// HeaderAttempts is the decimal count of WeChat API calls, as
	// [ResultData.Attempts].
	HeaderAttempts = "Kfbridge-Attempts"
	// HeaderOriginalSubject is the subject the command was published on,
	// wxkf.out.<appid>.<bid>.<openid>.<verb>: where a replay goes.
	HeaderOriginalSubject = "Kfbridge-Original-Subject"
)

// DeadLetterSubject returns wxkf.dlq.<appid>.<bid>.<openid>.<verb>, where
// the egress keeps a failed command of c; c's tokens are not checked (they
// were when the command was read).
func DeadLetterSubject(c Conversation, verb string) string {
	return DeadLetterPrefix + c.String() + "." + verb
}
