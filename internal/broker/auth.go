package broker

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// internalUser is the account of the bridge's own in-process connection
// when the embedded server requires authentication.
const internalUser = "kfbridge-internal"

// BotPermissions are what a bot may do on the embedded server: read pushes
// and results (with its own JetStream consumers on WXKF_IN and WXKF_RESULT),
// publish commands, call the management API. Everything else — the token
// bucket, the sent records, other streams — is out of reach.
func BotPermissions() *server.Permissions {
	var pub []string
	for _, stream := range []string{events.InboundStreamName, events.ResultStreamName} {
		pub = append(pub,
			"$JS.API.STREAM.INFO."+stream,
			"$JS.API.STREAM.MSG.GET."+stream,
			"$JS.API.DIRECT.GET."+stream,
			"$JS.API.DIRECT.GET."+stream+".>",
			"$JS.API.CONSUMER.CREATE."+stream,
			"$JS.API.CONSUMER.CREATE."+stream+".>",
			"$JS.API.CONSUMER.DURABLE.CREATE."+stream+".>",
			"$JS.API.CONSUMER.INFO."+stream+".>",
			"$JS.API.CONSUMER.DELETE."+stream+".>",
			"$JS.API.CONSUMER.MSG.NEXT."+stream+".>",
			"$JS.API.CONSUMER.LIST."+stream,
			"$JS.API.CONSUMER.NAMES."+stream,
			"$JS.ACK."+stream+".>",
		)
	}
	pub = append(pub, "$JS.API.INFO", "$JS.FC.>", events.OutboundSubjects, "wxkf.api.>")
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{events.InboundSubjects, events.ResultSubjects, "_INBOX.>"}},
	}
}

// users returns the server's users and the bridge's own credentials, or
// nils when no users are configured (no authentication).
func users(cfg config.Embedded) ([]*server.User, string, string, error) {
	if len(cfg.Users) == 0 {
		return nil, "", "", nil
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", "", err
	}
	password := hex.EncodeToString(b[:])
	out := []*server.User{{Username: internalUser, Password: password}}
	for _, u := range cfg.Users {
		su := &server.User{Username: u.User, Password: u.Password.Value()}
		if u.Role != "bridge" {
			su.Permissions = BotPermissions()
		}
		out = append(out, su)
	}
	return out, internalUser, password, nil
}
