package wxpush

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// Signer builds the signed pushes WeChat sends for one mini program, and
// checks the answers to them as WeChat does ([Signer.CheckAnswer]). A Signer
// is immutable and safe for concurrent use.
type Signer struct {
	app      App
	codec    *wxcodec.Codec
	key      *wxcodec.Key // nil without an EncodingAESKey
	endpoint *url.URL     // <base>/wx/<appid>, no query
}

// Request is one signed push, ready to be sent and, as WeChat's retries
// do, sent again byte for byte.
type Request struct {
	// Spec is the push, with the defaults [Signer.Sign] filled in.
	Spec Spec
	// Query holds the signed query parameters.
	Query wxcodec.Query
	// URL is the full URL to POST to: <base>/wx/<appid>?<query>.
	URL string
	// Body is the request body.
	Body []byte
	// msg is the message of a push signed by [Signer.SignMessage], nil
	// for one described by Spec.
	msg *wxcodec.Message
}

// message returns the message the push carries.
func (r *Request) message() (wxcodec.Message, error) {
	if r.msg != nil {
		return *r.msg, nil
	}
	return r.Spec.Message()
}

// ContentType returns the Content-Type header of the request.
func (r *Request) ContentType() string { return contentType(r.Spec.Format) }

func contentType(f wxcodec.Format) string {
	if f == wxcodec.FormatJSON {
		return "application/json"
	}
	return "text/xml"
}

// NewSigner returns a [Signer] for app that addresses pushes to
// baseURL/wx/<appid>. Empty fields of app default to the demo app
// (internal/demo); the EncodingAESKey may stay empty for an app that only
// pushes in plaintext mode. Errors wrap [ErrInvalid] (a bad base URL) or
// come from [wxcodec.New] (for example [wxcodec.ErrKey]).
func NewSigner(baseURL string, app App) (*Signer, error) {
	app.setDefaults()
	endpoint, err := pushEndpoint(baseURL, app.AppID)
	if err != nil {
		return nil, err
	}
	codec, err := wxcodec.New(app.AppID, app.Token, app.EncodingAESKey)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", app.AppID, err)
	}
	s := &Signer{app: app, codec: codec, endpoint: endpoint}
	if app.EncodingAESKey != "" {
		if s.key, err = wxcodec.ParseKey(app.EncodingAESKey); err != nil {
			return nil, fmt.Errorf("app %s: %w", app.AppID, err)
		}
	}
	return s, nil
}

// DefaultMode returns the mode of a push whose [Spec] names none: the one
// the app's key implies, which is what kfbridge accepts by default —
// [wxcodec.ModeSafe] with an EncodingAESKey, [wxcodec.ModePlaintext]
// without.
func (s *Signer) DefaultMode() wxcodec.Mode {
	if s.key != nil {
		return wxcodec.ModeSafe
	}
	return wxcodec.ModePlaintext
}

// AppID returns the AppID of the signer's mini program.
func (s *Signer) AppID() string { return s.app.AppID }

// Sign returns the push described by spec, signed with timestamp now and a
// random nonce; encrypted modes use fresh random bytes from crypto/rand.
// It fills in the defaults of spec: [wxcodec.FormatXML], the mode the
// app's key implies (safe with an EncodingAESKey, plaintext without),
// CreateTime now, and the app's AppID for a card.
// Errors wrap [ErrInvalid] for a bad Spec, or come from
// [wxcodec.Codec.EncodePush] (for example [wxcodec.ErrNoKey] for an
// encrypted mode without an EncodingAESKey).
func (s *Signer) Sign(spec Spec, now time.Time) (*Request, error) {
	spec, err := s.complete(spec, now)
	if err != nil {
		return nil, err
	}
	m, err := spec.Message()
	if err != nil {
		return nil, err
	}
	return s.sign(spec, m, now)
}

// SignMessage returns the push carrying m as it is, in format and mode
// (zero values default as in [Signer.Sign]), signed with timestamp now; a
// zero CreateTime becomes now. The request's Spec describes m for a
// [Pusher]: Kind is m.MsgType (event:<Event> for an event), and OpenID,
// To, BusinessID and MsgID are m's. Errors wrap [ErrInvalid] for a message
// without MsgType or with a BusinessId that is not a non-negative integer,
// or come from [wxcodec.Codec.EncodePush].
func (s *Signer) SignMessage(m wxcodec.Message, format wxcodec.Format, mode wxcodec.Mode, now time.Time) (*Request, error) {
	kind := m.MsgType
	switch {
	case kind == "":
		return nil, fmt.Errorf("%w: message without MsgType", ErrInvalid)
	case kind == "event":
		kind = KindEventPrefix + m.Event
	}
	var bid int64
	if m.BusinessID != "" {
		var err error
		if bid, err = strconv.ParseInt(m.BusinessID, 10, 64); err != nil || bid < 0 {
			return nil, fmt.Errorf("%w: BusinessId %q", ErrInvalid, m.BusinessID)
		}
	}
	if m.CreateTime == 0 {
		m.CreateTime = now.Unix()
	}
	spec, err := s.complete(Spec{Kind: kind, Format: format, Mode: mode, OpenID: m.FromUserName, To: m.ToUserName,
		BusinessID: bid, MsgID: m.MsgID, CreateTime: m.CreateTime, AppID: m.AppID}, now)
	if err != nil {
		return nil, err
	}
	req, err := s.sign(spec, m, now)
	if err != nil {
		return nil, err
	}
	req.msg = &m
	return req, nil
}

// sign signs m, the message of the completed spec.
func (s *Signer) sign(spec Spec, m wxcodec.Message, now time.Time) (*Request, error) {
	q, body, err := s.encode(spec, m, now)
	if err != nil {
		return nil, err
	}
	u := *s.endpoint
	u.RawQuery = EncodeQuery(q)
	return &Request{Spec: spec, Query: q, URL: u.String(), Body: body}, nil
}

// complete fills in the defaults of spec and checks Format and Mode.
func (s *Signer) complete(spec Spec, now time.Time) (Spec, error) {
	if spec.Format == 0 {
		spec.Format = wxcodec.FormatXML
	}
	if spec.Mode == 0 {
		spec.Mode = s.DefaultMode()
	}
	if spec.Format != wxcodec.FormatXML && spec.Format != wxcodec.FormatJSON {
		return Spec{}, fmt.Errorf("%w: format %v", ErrInvalid, spec.Format)
	}
	switch spec.Mode {
	case wxcodec.ModePlaintext, wxcodec.ModeCompatible, wxcodec.ModeSafe:
	default:
		return Spec{}, fmt.Errorf("%w: mode %v", ErrInvalid, spec.Mode)
	}
	if spec.CreateTime == 0 {
		spec.CreateTime = now.Unix()
	}
	if spec.AppID == "" && spec.Kind == KindMiniProgramPage {
		spec.AppID = s.app.AppID
	}
	return spec, nil
}

// encode signs m, the message of a completed spec.
func (s *Signer) encode(spec Spec, m wxcodec.Message, now time.Time) (wxcodec.Query, []byte, error) {
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := strconv.FormatUint(uint64(mrand.Uint32()), 10)
	q, body, err := s.codec.EncodePush(rand.Reader, spec.Format, spec.Mode, m, ts, nonce)
	if err != nil {
		return wxcodec.Query{}, nil, fmt.Errorf("sign %s push: %w", spec.Kind, err)
	}
	return q, body, nil
}
