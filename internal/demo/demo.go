// Package demo holds the demo mini program that `kfbridge --demo` serves and
// that `wxsim` targets by default, so the two work together with no flags.
// These credentials are public: never use them for a real mini program.
package demo

// The demo app's credentials.
const (
	AppID          = "wxkfbridgedemo01"
	Secret         = "kfbridge-demo-secret"
	Token          = "kfbridgedemotoken"
	EncodingAESKey = "kfbridgeDemoEncodingAESKey0123456789abcdefg"
	// OriginalID is the demo mini program's original id (ToUserName).
	OriginalID = "gh_kfbridgedemo"
	// OpenID is the default demo user.
	OpenID = "oDemoUser-kfbridge_0001"
	// IngressURL is where the demo ingress listens by default.
	IngressURL = "http://127.0.0.1:8080"
	// NATSURL is where the demo's embedded NATS listens by default.
	NATSURL = "nats://127.0.0.1:4222"
)
