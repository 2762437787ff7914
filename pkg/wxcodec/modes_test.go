package wxcodec

import (
	"errors"
	"strings"
	"testing"
)

// modeTestPushes returns a push of each mode, signed for v1's app.
func modeTestPushes(tb testing.TB) map[Mode]struct {
	q    Query
	body []byte
} {
	tb.Helper()
	v1 := vectorByID(tb, "V1")
	c := mustCodec(tb, v1.AppID, v1.Token, v1.EncodingAESKey)
	m := Message{ToUserName: "gh_97417a04a28d", FromUserName: v1OpenID, CreateTime: 1714112445, MsgType: "text", Content: "hi", MsgID: "1"}
	out := map[Mode]struct {
		q    Query
		body []byte
	}{}
	for _, mode := range []Mode{ModePlaintext, ModeCompatible, ModeSafe} {
		q, body, err := c.EncodePush(strings.NewReader(v1.Random), FormatXML, mode, m, v1.Timestamp, v1.Nonce)
		if err != nil {
			tb.Fatal(err)
		}
		out[mode] = struct {
			q    Query
			body []byte
		}{q, body}
	}
	return out
}

// TestModes checks that a codec accepts exactly its modes: by default the
// one its key implies (a keyed app refuses plaintext pushes, whose
// signature does not cover the body), and with WithModes the listed ones.
func TestModes(t *testing.T) {
	v1 := vectorByID(t, "V1")
	pushes := modeTestPushes(t)
	all := []Mode{ModePlaintext, ModeCompatible, ModeSafe}
	tests := []struct {
		name   string
		key    string
		opts   []Option
		accept []Mode
	}{
		{name: "default with key", key: v1.EncodingAESKey, accept: []Mode{ModeSafe}},
		{name: "default without key", accept: []Mode{ModePlaintext}},
		{name: "compatible listed", key: v1.EncodingAESKey, opts: []Option{WithModes(ModeCompatible, ModeSafe)}, accept: []Mode{ModeCompatible, ModeSafe}},
		{name: "plaintext listed with key", key: v1.EncodingAESKey, opts: []Option{WithModes(ModePlaintext, ModeSafe)}, accept: []Mode{ModePlaintext, ModeSafe}},
		{name: "compatible only", key: v1.EncodingAESKey, opts: []Option{WithModes(ModeCompatible)}, accept: []Mode{ModeCompatible}},
		{name: "all", key: v1.EncodingAESKey, opts: []Option{WithModes(all...)}, accept: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(v1.AppID, v1.Token, tt.key, tt.opts...)
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			for _, mode := range all {
				want := false
				for _, a := range tt.accept {
					want = want || a == mode
				}
				if c.Accepts(mode) != want {
					t.Errorf("Accepts(%v) = %v, want %v", mode, !want, want)
				}
				p := pushes[mode]
				got, err := c.Decode(p.q, p.body)
				switch {
				case want && err != nil:
					t.Errorf("Decode(%v push) = %v, want it accepted", mode, err)
				case want && got.Mode != mode:
					t.Errorf("Decode(%v push).Mode = %v", mode, got.Mode)
				case !want && !errors.Is(err, ErrMode):
					t.Errorf("Decode(%v push) = %+v, %v, want %v", mode, got, err, ErrMode)
				}
			}
		})
	}
}

// TestModeCheckedFirst checks that a push in a refused mode fails with
// ErrMode whatever its body and signature: the mode is checked before the
// body is parsed or the signature computed.
func TestModeCheckedFirst(t *testing.T) {
	v1 := vectorByID(t, "V1")
	safeOnly, err := New(v1.AppID, v1.Token, v1.EncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	plainOnly, err := New(v1.AppID, v1.Token, "")
	if err != nil {
		t.Fatal(err)
	}
	compat := modeTestPushes(t)[ModeCompatible]
	tests := []struct {
		name string
		c    *Codec
		q    Query
		body string
	}{
		{name: "plaintext garbage to safe app", c: safeOnly, q: Query{Signature: "x", Timestamp: "1", Nonce: "2"}, body: "<<<not xml"},
		{name: "plaintext unsigned to safe app", c: safeOnly, q: Query{}, body: v1.Plaintext},
		{name: "encrypted garbage to plaintext app", c: plainOnly, q: Query{EncryptType: "aes", MsgSignature: "x"}, body: "<<<not xml"},
		{name: "compatible to safe app, bad signature", c: safeOnly, q: Query{EncryptType: "aes", MsgSignature: "x"}, body: string(compat.body)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.c.Decode(tt.q, []byte(tt.body)); !errors.Is(err, ErrMode) {
				t.Errorf("Decode(%q) = %v, want %v", tt.body, err, ErrMode)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	key := strings.Repeat("A", 43)
	tests := []struct {
		name string
		key  string
		opts []Option
		err  error
	}{
		{name: "no modes", key: key, opts: []Option{WithModes()}, err: ErrConfig},
		{name: "unknown mode", key: key, opts: []Option{WithModes(Mode(9))}, err: ErrConfig},
		{name: "safe without key", opts: []Option{WithModes(ModeSafe)}, err: ErrConfig},
		{name: "compatible without key", opts: []Option{WithModes(ModePlaintext, ModeCompatible)}, err: ErrConfig},
		{name: "previous key without key", opts: []Option{WithPrevious("", key)}, err: ErrConfig},
		{name: "bad previous key", key: key, opts: []Option{WithPrevious("old", "short")}, err: ErrKey},
		{name: "previous token only", opts: []Option{WithPrevious("old", "")}},
		{name: "previous both", key: key, opts: []Option{WithPrevious("old", strings.Repeat("B", 43))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("wx1", "t", tt.key, tt.opts...)
			if !errors.Is(err, tt.err) {
				t.Fatalf("New = %v, want %v", err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "short") {
				t.Errorf("New error %q contains the key", err)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModePlaintext, ModeCompatible, ModeSafe} {
		if got, err := ParseMode(m.String()); got != m || err != nil {
			t.Errorf("ParseMode(%q) = %v, %v, want %v", m.String(), got, err, m)
		}
	}
	if _, err := ParseMode("aes"); !errors.Is(err, ErrConfig) {
		t.Errorf("ParseMode(aes) = %v, want %v", err, ErrConfig)
	}
}
