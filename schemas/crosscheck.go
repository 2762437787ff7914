package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// checkInboundEvent checks the rules of an [InboundEvent] that relate two
// fields, where JSON Schema cannot: the envelope must agree with its data.
// It skips a rule when a field it needs is missing or has the wrong type,
// since the schema reports those.
func checkInboundEvent(doc any) []Violation {
	ev, _ := doc.(map[string]any)
	data, _ := ev["data"].(map[string]any)
	if data == nil {
		return nil
	}
	var vs []Violation
	agree := func(loc string, got any, want string, what string) {
		if s, ok := got.(string); ok && s != want {
			vs = append(vs, Violation{Location: loc, Message: fmt.Sprintf("%q disagrees with data: want %q (%s)", s, want, what)})
		}
	}

	appid, okApp := data["appid"].(string)
	bid, okBid := data["business_id"].(string)
	if okApp {
		agree("/appid", ev["appid"], appid, "data.appid")
	}
	if okBid {
		agree("/businessid", ev["businessid"], bid, "data.business_id")
	}
	if okApp && okBid {
		agree("/source", ev["source"], "/wxkf/"+appid+"/"+bid, "/wxkf/<data.appid>/<data.business_id>")
	}
	if openid, ok := data["openid"].(string); ok {
		if openid == "" {
			openid = "_"
		}
		agree("/subject", ev["subject"], openid, `data.openid, or "_" when it is empty`)
	}
	if msgID, ok := data["msg_id"].(string); ok {
		agree("/id", ev["id"], msgID, "data.msg_id")
	}
	if msgType, ok := data["msg_type"].(string); ok {
		if msgType != "event" {
			agree("/type", ev["type"], "weixin.kf.message."+msgType, "weixin.kf.message.<data.msg_type>")
		} else if e, ok := data["event"].(map[string]any); ok {
			if name, ok := e["name"].(string); ok {
				agree("/type", ev["type"], "weixin.kf.event."+name, "weixin.kf.event.<data.event.name>")
			}
		}
	}
	if ts, ok := ev["time"].(string); ok {
		ct, ok := data["create_time"].(json.Number)
		sec, err := ct.Int64()
		t, errT := time.Parse(time.RFC3339, ts)
		if ok && err == nil && errT == nil && !t.Equal(time.Unix(sec, 0)) {
			agree("/time", ts, time.Unix(sec, 0).UTC().Format(time.RFC3339), "data.create_time")
		}
	}
	return vs
}

// maxCommandIDBytes bounds a command id in bytes, as egress does; JSON
// Schema's maxLength counts characters.
const maxCommandIDBytes = 256

// checkCommandID reports a command id at loc that is longer than
// [maxCommandIDBytes] bytes.
func checkCommandID(loc string, id any) []Violation {
	if s, ok := id.(string); ok && len(s) > maxCommandIDBytes {
		return []Violation{{Location: loc, Message: fmt.Sprintf("command id is %d bytes long, want at most %d", len(s), maxCommandIDBytes)}}
	}
	return nil
}

// checkCommandEvent checks what the schema of a [CommandEvent] cannot: the
// id's length in bytes.
func checkCommandEvent(doc any) []Violation {
	ev, _ := doc.(map[string]any)
	return checkCommandID("/id", ev["id"])
}

// checkResultEvent checks the rules of a [ResultEvent] that relate two
// fields, or that JSON Schema cannot express: the envelope must agree with
// its data, and the command id must fit in 256 bytes. Like
// [checkInboundEvent] it skips a rule when a field it needs is missing or
// has the wrong type.
func checkResultEvent(doc any) []Violation {
	ev, _ := doc.(map[string]any)
	data, _ := ev["data"].(map[string]any)
	if data == nil {
		return checkCommandID("/id", ev["id"])
	}
	vs := checkCommandID("/data/command_id", data["command_id"])
	agree := func(loc string, got any, want string, what string) {
		if s, ok := got.(string); ok && s != want {
			vs = append(vs, Violation{Location: loc, Message: fmt.Sprintf("%q disagrees with data: want %q (%s)", s, want, what)})
		}
	}

	if id, ok := data["command_id"].(string); ok {
		agree("/id", ev["id"], id, "data.command_id")
	} else {
		vs = append(vs, checkCommandID("/id", ev["id"])...)
	}
	appid, okApp := data["appid"].(string)
	bid, okBid := data["business_id"].(string)
	if okApp {
		agree("/appid", ev["appid"], appid, "data.appid")
	}
	if okBid {
		agree("/businessid", ev["businessid"], bid, "data.business_id")
	}
	if okApp && okBid {
		agree("/source", ev["source"], "/wxkf/"+appid+"/"+bid+"/egress", "/wxkf/<data.appid>/<data.business_id>/egress")
	}
	if openid, ok := data["openid"].(string); ok {
		agree("/subject", ev["subject"], openid, "data.openid")
	}
	ts, ok1 := ev["time"].(string)
	dts, ok2 := data["time"].(string)
	if ok1 && ok2 {
		t, err := time.Parse(time.RFC3339Nano, ts)
		dt, errD := time.Parse(time.RFC3339Nano, dts)
		if err == nil && errD == nil && !t.Equal(dt) {
			agree("/time", ts, dts, "data.time")
		}
	}
	// A text sent in parts: no more parts sent than it has, all of them
	// when delivered unless the reply budget cut it (budget_cut, fewer).
	parts, okParts := data["parts"].(json.Number)
	sent, okSent := data["parts_sent"].(json.Number)
	if okParts {
		n, err := parts.Int64()
		m := int64(0)
		if okSent {
			m, _ = sent.Int64()
		}
		switch {
		case err != nil:
		case m > n:
			vs = append(vs, Violation{Location: "/data/parts_sent", Message: fmt.Sprintf("%d parts sent of %d", m, n)})
		case data["outcome"] == "delivered" && m != n && data["budget_cut"] == nil:
			vs = append(vs, Violation{Location: "/data/parts_sent", Message: fmt.Sprintf("delivered with %d parts sent of %d, want all (or budget_cut)", m, n)})
		case data["budget_cut"] != nil && (data["outcome"] != "delivered" || m >= n):
			vs = append(vs, Violation{Location: "/data/budget_cut", Message: fmt.Sprintf("budget_cut on a %v result with %d parts sent of %d", data["outcome"], m, n)})
		}
	}
	return vs
}

// repeatedMembers reports every member name that occurs more than once in
// an object of doc, a JSON document already known to parse. RFC 8259 leaves
// such a document's meaning to the parser; kfbridge's contract refuses it
// for commands, so that a bot and the bridge cannot read different ones.
func repeatedMembers(doc []byte) []Violation {
	dec := json.NewDecoder(bytes.NewReader(doc))
	var vs []Violation
	var walk func(path []string) error
	walk = func(path []string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return err
				}
				name, _ := tok.(string)
				if seen[name] {
					vs = append(vs, Violation{Location: pointer(path), Message: fmt.Sprintf("member %q appears more than once", name)})
				}
				seen[name] = true
				if err := walk(append(path, name)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(append(path, strconv.Itoa(i))); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		}
		return err
	}
	if err := walk(nil); err != nil {
		return []Violation{{Message: "not JSON: " + err.Error()}}
	}
	return vs
}
