// Package baseurl checks the base URLs the push and simulator tools are
// given (the ingress, a running simulator): absolute http or https, with a
// host, an optional path, and no query or fragment, so that a path can be
// appended to it.
package baseurl

import (
	"errors"
	"net/url"
)

// Check reports why raw is not such a base URL, or nil. The error does not
// repeat raw: callers wrap it with their own sentinel and the URL's name.
func Check(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return errors.New("want http://host[:port][/path]")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not have a query or fragment")
	}
	return nil
}
