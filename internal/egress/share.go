package egress

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/mediafetch"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// Tokens returns the access-token manager (nil before [Egress.Setup]), for
// the parts of the process that call WeChat beside the egress — the
// management service — so that all share one token per app.
func (e *Egress) Tokens() *token.Manager { return e.tokens }

// MediaFetcher returns the fetcher of images by URL, with the allow list of
// egress.media_fetch, for the management service's media.upload.
func (e *Egress) MediaFetcher() *mediafetch.Fetcher { return e.fetch }

// API returns the WeChat API client.
func (e *Egress) API() *wxapi.Client { return e.api }

// MediaObjects returns the [MediaStore] object store (nil before
// [Egress.Setup]).
func (e *Egress) MediaObjects() jetstream.ObjectStore { return e.store }
