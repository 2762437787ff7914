package manage

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// TestMediaGetInline: with inline the reply carries the bytes (for bots,
// which cannot read the object store); a medium whose reply would exceed
// the NATS max payload is a clear error, stored all the same.
func TestMediaGetInline(t *testing.T) {
	e := newEnv(t, nil)
	img := wxsim.PlaceholderImage()
	e.sim.AddUserMedia(appID, "USER_MEDIA_1", img, "")
	got := e.ok(OpMediaGet, map[string]any{"media_id": "USER_MEDIA_1", "inline": true})
	data, err := base64.StdEncoding.DecodeString(fmt.Sprint(got["data"]))
	if err != nil || !bytes.Equal(data, img) {
		t.Errorf("inline data: %d bytes, %v; want the medium's %d", len(data), err, len(img))
	}
	if plain := e.ok(OpMediaGet, map[string]any{"media_id": "USER_MEDIA_1"}); plain["data"] != nil {
		t.Errorf("media.get without inline answered data")
	}

	big := append(bytes.Clone(img), bytes.Repeat([]byte{0}, int(e.nc.MaxPayload())*3/4)...)
	e.sim.AddUserMedia(appID, "USER_MEDIA_BIG", big, "image/png")
	me := e.wantCode(OpMediaGet, map[string]any{"media_id": "USER_MEDIA_BIG", "inline": true}, CodeMedia)
	if !strings.Contains(me.Description, "max payload") || !strings.Contains(me.Description, "wxmedia/"+appID+"/USER_MEDIA_BIG.png") {
		t.Errorf("error %q: want the max payload and the object named", me.Description)
	}
	if stored, err := e.store.GetBytes(t.Context(), "wxmedia/"+appID+"/USER_MEDIA_BIG.png"); err != nil || !bytes.Equal(stored, big) {
		t.Errorf("stored object: %d bytes, %v", len(stored), err)
	}
}
