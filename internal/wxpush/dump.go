package wxpush

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"time"
)

// Dump signs cfg.Pushes unique pushes, as [Load] would send them, and
// writes one per line as "<path>?<query>\t<body>" for other load tools
// (bench/wrk/push.lua reads this format). It returns how many it wrote.
func Dump(ctx context.Context, cfg LoadConfig, w io.Writer) (int, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	signer, err := NewSigner(cfg.URL, cfg.App)
	if err != nil {
		return 0, err
	}
	spec, err := signer.complete(cfg.Spec, time.Now())
	if err != nil {
		return 0, err
	}
	pushes, err := generate(ctx, signer, spec, cfg.Pushes)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	for _, p := range pushes {
		if bytes.ContainsAny(p.body, "\t\n") {
			return 0, fmt.Errorf("%w: a push body holds a tab or newline; use another format", ErrInvalid)
		}
		fmt.Fprintf(bw, "%s?%s\t%s\n", signer.endpoint.Path, p.query, p.body)
	}
	return len(pushes), bw.Flush()
}
