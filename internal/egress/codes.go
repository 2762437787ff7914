package egress

// kfbridge's own errcodes for failures that have no WeChat errcode. WeChat's
// codes are -1 and positive, so these never collide.
const (
	// CodeMalformed: [events.ParseCommand] refused the command (it breaks
	// the schemas in schemas/out).
	CodeMalformed = -1001
	// CodeUnknownApp: the appid is not configured in this bridge.
	CodeUnknownApp = -1002
	// CodeExpired: the retry budget ran out before WeChat accepted it.
	CodeExpired = -1003
	// CodeMaybeDelivered: the request was written but its answer was lost.
	CodeMaybeDelivered = -1004
	// CodeMedia: the image could not be fetched for upload.
	CodeMedia = -1005
	// CodeDuplicateID: the command id was already used by another command
	// (another conversation, verb or body). (-1006 is the management
	// service's object-store failure.)
	CodeDuplicateID = -1007
	// CodeUnsplittable: a text longer than egress.text_limit cannot be
	// split into parts that fit, since one of its <a …>…</a> links is
	// longer than the limit; nothing was sent (reason permanent). (-1008
	// is the reply budget's refusal.)
	CodeUnsplittable = -1009
)

// Reasons of a failed result.
const (
	ReasonMalformed      = "malformed"
	ReasonUnknownApp     = "unknown_app"
	ReasonPermanent      = "permanent"
	ReasonWindow         = "window"
	ReasonQuota          = "quota"
	ReasonTransient      = "transient"
	ReasonToken          = "token"
	ReasonMedia          = "media"
	ReasonExpired        = "expired"
	ReasonMaybeDelivered = "maybe_delivered"
	ReasonDuplicateID    = "duplicate_id"
)
