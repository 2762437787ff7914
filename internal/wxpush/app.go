package wxpush

import (
	"fmt"

	"github.com/kfbridge/kfbridge/internal/baseurl"
	"github.com/kfbridge/kfbridge/internal/demo"
)

// App is the mini program whose pushes the simulator sends: the values
// entered in the mini program console (开发管理 → 消息推送配置).
type App struct {
	// AppID is the mini program AppID; pushes go to <url>/wx/<AppID>.
	// Default [demo.AppID].
	AppID string
	// Token is the push Token that signs every push: required, except for
	// the demo app, where it defaults to [demo.Token].
	Token string
	// EncodingAESKey is the 43-character key of the compatible and safe
	// modes: [demo.EncodingAESKey] by default for the demo app; it may stay
	// empty for another app that only pushes in plaintext mode.
	EncodingAESKey string
}

// setDefaults fills in the demo app's values for the empty fields: the
// AppID, and the Token and key when the AppID is the demo app's.
func (a *App) setDefaults() {
	if a.AppID == "" {
		a.AppID = demo.AppID
	}
	if a.AppID != demo.AppID {
		return
	}
	if a.Token == "" {
		a.Token = demo.Token
	}
	if a.EncodingAESKey == "" {
		a.EncodingAESKey = demo.EncodingAESKey
	}
}

// validate reports the problems of a (after defaults), each wrapped in
// [ErrInvalid]. It leaves the key's syntax to [wxcodec.ParseKey].
func (a *App) validate() error {
	if a.Token == "" {
		return fmt.Errorf("%w: app %s: token is required", ErrInvalid, a.AppID)
	}
	return nil
}

// checkURL reports an ingress or simulator base URL that [baseurl.Check] rejects,
// wrapped in [ErrInvalid] with the URL's name.
func checkURL(name, raw string) error {
	if err := baseurl.Check(raw); err != nil {
		return fmt.Errorf("%w: %s %q: %w", ErrInvalid, name, raw, err)
	}
	return nil
}
