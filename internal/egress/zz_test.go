package egress

import (
	"fmt"
	"testing"
)

func dumpStreams(b *testing.B, e *env) {
	for _, n := range []string{"KV_WXKF_SENT", "WXKF_RESULT", "KV_NAIVE_SENT"} {
		s, err := e.js.Stream(b.Context(), n)
		if err != nil {
			continue
		}
		info, _ := s.Info(b.Context())
		fmt.Printf("%s msgs=%d bytes=%d per=%d maxbytes=%d maxage=%v ttl=%v\n", n, info.State.Msgs, info.State.Bytes, info.State.Bytes/max(info.State.Msgs, 1), info.Config.MaxBytes, info.Config.MaxAge, info.Config.AllowMsgTTL)
	}
}
