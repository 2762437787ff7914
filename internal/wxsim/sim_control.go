package wxsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// Control endpoints of a [Sim] (JSON in, JSON out; errors are HTTP 400 or
// 404 with {"error": "…"}). They are not part of WeChat's API: faults and
// latency never apply to them and [CallStats] does not count them.
const (
	// PathInteraction takes POST {"appid","bid","openid","kind","time"}
	// and calls [Sim.RecordInteraction] (bid: string or number, default
	// "0"; time: RFC 3339, default the simulated now).
	PathInteraction = "/sim/interaction"
	// PathMedia takes POST {"appid","media_id","content_type","data"}
	// (data in standard base64) and calls [Sim.AddUserMedia].
	PathMedia = "/sim/media"
	// PathAdvance takes POST ?d=<duration> and calls [Sim.Advance]; it
	// answers {"now": …}.
	PathAdvance = "/sim/advance"
	// PathClock answers GET with {"now": …}, the simulated time.
	PathClock = "/sim/clock"
	// PathDelivered answers GET ?appid=&openid= with the [Delivered]
	// messages (all apps when appid is empty; one user when openid is set).
	PathDelivered = "/sim/delivered"
	// PathTyping answers GET ?appid=&openid= with the [TypingCall]s.
	PathTyping = "/sim/typing"
	// PathStats answers GET with [CallStats].
	PathStats = "/sim/stats"
	// PathFaults answers GET with the [Faults] and takes PUT
	// {"latency":"250ms","fail_rate":0.1,"http5xx_rate":0,
	// "token_fail_rate":0,"token_http5xx_rate":0}; absent fields keep
	// their value.
	PathFaults = "/sim/faults"
)

// controlRoutes registers the control endpoints on mux.
func (s *Sim) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathInteraction, s.postInteraction)
	mux.HandleFunc("POST "+PathMedia, s.postMedia)
	mux.HandleFunc("POST "+PathAdvance, s.postAdvance)
	mux.HandleFunc("GET "+PathClock, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, clockAnswer{Now: s.Now()})
	})
	mux.HandleFunc("GET "+PathDelivered, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, collect(s, r, (*Sim).Delivered, func(d Delivered) string { return d.OpenID }))
	})
	mux.HandleFunc("GET "+PathTyping, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, collect(s, r, (*Sim).Typing, func(t TypingCall) string { return t.OpenID }))
	})
	mux.HandleFunc("GET "+PathStats, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Calls())
	})
	mux.HandleFunc("GET "+PathFaults, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
	})
	mux.HandleFunc("PUT "+PathFaults, s.putFaults)
	mux.HandleFunc("POST "+PathKFStatus, s.postKFStatus)
	mux.HandleFunc("/sim/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no control endpoint %s %s", r.Method, r.URL.Path))
	})
}

// interactionRequest is the body of [PathInteraction].
type interactionRequest struct {
	AppID  string          `json:"appid"`
	BID    json.RawMessage `json:"bid"`
	OpenID string          `json:"openid"`
	Kind   string          `json:"kind"`
	Time   time.Time       `json:"time"`
}

func (s *Sim) postInteraction(w http.ResponseWriter, r *http.Request) {
	var req interactionRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	bid := "0"
	if len(req.BID) > 0 && string(req.BID) != "null" {
		var ok bool
		if bid, ok = parseBID(req.BID); !ok {
			writeError(w, http.StatusBadRequest, fmt.Errorf("bid %s: want an integer", req.BID))
			return
		}
	}
	var errs []error
	if !slices.Contains(s.appIDs, req.AppID) {
		errs = append(errs, fmt.Errorf("appid %q is not simulated", req.AppID))
	}
	if req.OpenID == "" {
		errs = append(errs, errors.New("openid is required"))
	}
	if req.Kind == "" {
		errs = append(errs, errors.New("kind is required"))
	}
	if err := errors.Join(errs...); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.RecordInteraction(req.AppID, bid, req.OpenID, req.Kind, req.Time)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// mediaRequest is the body of [PathMedia].
type mediaRequest struct {
	AppID       string `json:"appid"`
	MediaID     string `json:"media_id"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"` // standard base64 in JSON
}

func (s *Sim) postMedia(w http.ResponseWriter, r *http.Request) {
	var req mediaRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	switch {
	case !slices.Contains(s.appIDs, req.AppID):
		writeError(w, http.StatusBadRequest, fmt.Errorf("appid %q is not simulated", req.AppID))
		return
	case req.MediaID == "":
		writeError(w, http.StatusBadRequest, errors.New("media_id is required"))
		return
	}
	s.AddUserMedia(req.AppID, req.MediaID, req.Data, req.ContentType)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// clockAnswer tells the simulated time.
type clockAnswer struct {
	Now time.Time `json:"now"`
}

func (s *Sim) postAdvance(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil || d < 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("d=%q: want a duration ≥ 0 such as 72h", r.URL.Query().Get("d")))
		return
	}
	s.mu.Lock()
	s.clock.advance(d)
	now := s.clock.now()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, clockAnswer{Now: now})
}

func (s *Sim) putFaults(w http.ResponseWriter, r *http.Request) {
	var req faultsJSON
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	f := req.apply(s.faults)
	err := f.validate()
	if err == nil {
		s.faults = f
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, toFaultsJSON(f))
}

// collect returns get(appid) for the appid query parameter (every app
// when empty), filtered by the openid parameter; never nil.
func collect[T any](s *Sim, r *http.Request, get func(*Sim, string) []T, openid func(T) string) []T {
	apps := s.appIDs
	if id := r.URL.Query().Get("appid"); id != "" {
		apps = []string{id}
	}
	user := r.URL.Query().Get("openid")
	out := []T{}
	for _, id := range apps {
		for _, v := range get(s, id) {
			if user == "" || openid(v) == user {
				out = append(out, v)
			}
		}
	}
	return out
}

// readJSON decodes a control request body strictly.
func readJSON(r *http.Request, v any) error {
	d := json.NewDecoder(io.LimitReader(r.Body, maxUploadBody))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeError writes {"error": err} with status.
func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
