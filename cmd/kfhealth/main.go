// Command kfhealth is the healthcheck of kfbridge's container images. It
// GETs one URL and exits 0 when the answer is 2xx, 1 otherwise (2 on a
// usage error). The images are FROM scratch, with no shell and no curl, so
// their exec-form healthchecks run this static binary:
//
//	HEALTHCHECK CMD ["/kfhealth", "http://127.0.0.1:8082/readyz"]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/kfbridge/kfbridge/internal/buildinfo"
)

func main() {
	timeout := flag.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: kfhealth [-timeout 3s] URL\n\nGETs URL; exit status 0 when it answers 2xx, 1 otherwise.")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *version {
		fmt.Println("kfhealth", buildinfo.Read())
		return
	}
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	err := check(ctx, http.DefaultClient, flag.Arg(0))
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfhealth:", err)
		os.Exit(1)
	}
}

// errUnhealthy marks an answer that is not 2xx.
var errUnhealthy = errors.New("unhealthy")

// check GETs url and reports an error unless the answer is 2xx.
func check(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: %s: %s", errUnhealthy, resp.Status, body)
	}
	return nil
}
