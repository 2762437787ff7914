package wxsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Faults are the failures a [Sim] injects into its API answers. They never
// apply to the /sim/ control endpoints. An injected failure has no effect:
// the call is answered before the simulator looks at it.
type Faults struct {
	// Latency is added to every API answer (tokens included), after the
	// call took effect: a client that gives up earlier may miss the answer
	// of a send that was accepted.
	Latency time.Duration
	// FailRate is the probability that a call of any API but the tokens
	// answers {"errcode":-1,"errmsg":"system error"}.
	FailRate float64
	// HTTP5xxRate is the probability that such a call
	// answers HTTP 502 with a body that is not JSON.
	HTTP5xxRate float64
	// TokenFailRate and TokenHTTP5xxRate are the same for the token
	// endpoints (/cgi-bin/token and /cgi-bin/stable_token).
	TokenFailRate    float64
	TokenHTTP5xxRate float64
}

// validate reports every problem of f, each wrapped in [ErrInvalid].
func (f Faults) validate() error {
	var errs []error
	if f.Latency < 0 {
		errs = append(errs, fmt.Errorf("%w: latency %s: want 0 or more", ErrInvalid, f.Latency))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"fail rate", f.FailRate}, {"HTTP 5xx rate", f.HTTP5xxRate}, {"token fail rate", f.TokenFailRate}, {"token HTTP 5xx rate", f.TokenHTTP5xxRate}} {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			errs = append(errs, fmt.Errorf("%w: %s %v: want 0 to 1", ErrInvalid, r.name, r.v))
		}
	}
	return errors.Join(errs...)
}

// faultsJSON is the JSON form of [Faults] at /sim/faults; absent fields
// leave a value unchanged on PUT.
type faultsJSON struct {
	Latency          *jsonDuration `json:"latency,omitempty"`
	FailRate         *float64      `json:"fail_rate,omitempty"`
	HTTP5xxRate      *float64      `json:"http5xx_rate,omitempty"`
	TokenFailRate    *float64      `json:"token_fail_rate,omitempty"`
	TokenHTTP5xxRate *float64      `json:"token_http5xx_rate,omitempty"`
}

func toFaultsJSON(f Faults) faultsJSON {
	l := jsonDuration(f.Latency)
	return faultsJSON{&l, &f.FailRate, &f.HTTP5xxRate, &f.TokenFailRate, &f.TokenHTTP5xxRate}
}

// apply returns f with the fields present in j.
func (j faultsJSON) apply(f Faults) Faults {
	if j.Latency != nil {
		f.Latency = time.Duration(*j.Latency)
	}
	set := func(dst *float64, src *float64) {
		if src != nil {
			*dst = *src
		}
	}
	set(&f.FailRate, j.FailRate)
	set(&f.HTTP5xxRate, j.HTTP5xxRate)
	set(&f.TokenFailRate, j.TokenFailRate)
	set(&f.TokenHTTP5xxRate, j.TokenHTTP5xxRate)
	return f
}

// jsonDuration is a duration written as Go's "250ms" in JSON; a number is
// read as milliseconds.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ms float64
		if err := json.Unmarshal(b, &ms); err != nil {
			return fmt.Errorf("duration: want a string like \"250ms\" or milliseconds")
		}
		*d = jsonDuration(ms * float64(time.Millisecond))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = jsonDuration(v)
	return nil
}

// fault is what an injected failure answers.
type fault uint8

const (
	noFault fault = iota
	faultSystemError
	faultHTTP502
)

// draw decides whether to inject a failure into a call, with the
// probabilities failRate and http5xxRate. The caller holds the lock.
func draw(rng *rand.Rand, failRate, http5xxRate float64) fault {
	if failRate <= 0 && http5xxRate <= 0 {
		return noFault // draw nothing: other settings keep their sequence
	}
	x := rng.Float64()
	switch {
	case x < http5xxRate:
		return faultHTTP502
	case x < http5xxRate+failRate:
		return faultSystemError
	}
	return noFault
}
