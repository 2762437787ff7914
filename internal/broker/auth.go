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

// BridgeInboxPrefix is the inbox prefix of every connection the bridge
// opens (nats.CustomInboxPrefix): its KV reads of the token bucket, its
// publish acks and its requests are answered under it. No bot may
// subscribe to it; on an external NATS, deny bots subscribe on
// "_KFBRIDGE_INBOX.>" (and "_INBOX.>").
const BridgeInboxPrefix = "_KFBRIDGE_INBOX"

// BotInboxPrefix returns the inbox prefix bot user must set in its NATS
// client ("_INBOX_" + user): it may subscribe to nothing else outside
// wxkf.in.> and wxkf.result.>, so replies to its requests, its publish acks
// and its pulled messages arrive there, and no other bot's do.
func BotInboxPrefix(user string) string { return "_INBOX_" + user }

// mediaBucket is the object store of images, egress.MediaStore.
const mediaBucket = "WXKF_MEDIA"

// BotPermissions are what bot user may do on the embedded server:
//
//   - subscribe wxkf.in.> and wxkf.result.>, and its own inbox prefix
//     [BotInboxPrefix] — not "_INBOX.>", not the bridge's inboxes;
//   - publish commands (wxkf.out.>) and call the management API (wxkf.api.>);
//   - read the WXKF_IN and WXKF_RESULT streams and run the durable consumers
//     named in consumers on them (create, update, info, pull, ack, delete) —
//     no other consumer, so it cannot touch another bot's; ephemeral
//     consumers made by the legacy "$JS.API.CONSUMER.CREATE.<stream>"
//     request carry their name in the body, where permissions cannot see
//     it, and are refused;
//   - put and get objects in the object store WXKF_MEDIA (image commands
//     by object name, media.get results), but not purge or delete it; the
//     bucket is shared, so any bot may replace or mark deleted any name.
//
// Everything else — the token bucket, the sent records, the command and
// dead-letter streams, stream management — is out of reach. One limit of a
// shared account remains: NATS checks neither reply subjects nor a push
// consumer's deliver subject against these permissions, so a bot can have
// the server answer (or deliver what it may read) on any subject.
func BotPermissions(user string, consumers []string) *server.Permissions {
	var pub []string
	for _, stream := range []string{events.InboundStreamName, events.ResultStreamName} {
		pub = append(pub,
			"$JS.API.STREAM.INFO."+stream,
			"$JS.API.STREAM.MSG.GET."+stream,
			"$JS.API.DIRECT.GET."+stream,
			"$JS.API.DIRECT.GET."+stream+".>",
		)
		for _, c := range consumers {
			pub = append(pub,
				"$JS.API.CONSUMER.CREATE."+stream+"."+c,
				"$JS.API.CONSUMER.CREATE."+stream+"."+c+".>", // with a filter subject
				"$JS.API.CONSUMER.DURABLE.CREATE."+stream+"."+c,
				"$JS.API.CONSUMER.INFO."+stream+"."+c,
				"$JS.API.CONSUMER.DELETE."+stream+"."+c,
				"$JS.API.CONSUMER.MSG.NEXT."+stream+"."+c,
				"$JS.ACK."+stream+"."+c+".>",
			)
		}
	}
	// The object store: stream info to bind it, meta and chunk publishes
	// to put, direct gets of the meta, and ordered push consumers over the
	// chunks to get (nats.go names them at random, so any name, but only
	// filtered on chunks).
	media := "OBJ_" + mediaBucket
	pub = append(pub,
		"$JS.API.STREAM.INFO."+media,
		"$JS.API.STREAM.MSG.GET."+media,
		"$JS.API.DIRECT.GET."+media,
		"$JS.API.DIRECT.GET."+media+".>",
		"$O."+mediaBucket+".C.>",
		"$O."+mediaBucket+".M.>",
		"$JS.API.CONSUMER.CREATE."+media+".*.$O."+mediaBucket+".C.>",
		"$JS.API.CONSUMER.DELETE."+media+".*",
	)
	pub = append(pub, "$JS.API.INFO", "$JS.FC.>", events.OutboundSubjects, "wxkf.api.>")
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{
			events.InboundSubjects, events.ResultSubjects, BotInboxPrefix(user) + ".>",
		}},
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
			su.Permissions = BotPermissions(u.User, u.ConsumerNames())
		}
		out = append(out, su)
	}
	return out, internalUser, password, nil
}
