package egress

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// Tokens returns the access-token manager (nil before [Egress.Setup]), for
// the parts of the process that call WeChat beside the egress — the
// management service — so that all share one token per app.
func (e *Egress) Tokens() *token.Manager { return e.tokens }

// API returns the WeChat API client.
func (e *Egress) API() *wxapi.Client { return e.api }

// MediaObjects returns the [MediaStore] object store (nil before
// [Egress.Setup]).
func (e *Egress) MediaObjects() jetstream.ObjectStore { return e.store }
