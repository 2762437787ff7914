//go:build !unix

package ingress

// openFileLimit returns 0: the limit is unknown on this system.
func openFileLimit() int { return 0 }
