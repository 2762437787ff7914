//go:build unix

package ingress

import "syscall"

// openFileLimit returns the soft limit on open files, or 0 if unknown.
// (Go raises the soft limit to the hard one at start on Linux.)
func openFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
