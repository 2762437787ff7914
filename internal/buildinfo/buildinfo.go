// Package buildinfo says which kfbridge a binary is: its version, the VCS
// revision it was built from and the Go version, read from the build
// information the Go toolchain embeds (debug.ReadBuildInfo). A release build
// sets the version with
//
//	-ldflags "-X github.com/kfbridge/kfbridge/internal/buildinfo.version=v1.2.3"
//
// Without it the version is the main module's (a `go install …@v1.2.3` build)
// or "devel".
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set by the release build's -ldflags.
var version string

// Info describes a build.
type Info struct {
	// Version is the release version, e.g. v1.2.3, or "devel".
	Version string
	// Revision is the VCS revision (with "-dirty" for modified trees), or
	// "unknown".
	Revision string
	// Time is the revision's commit time (RFC 3339), or "".
	Time string
	// GoVersion is the Go toolchain's version.
	GoVersion string
}

// Read returns this binary's build information.
func Read() Info {
	info := Info{Version: version, Revision: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if info.Version == "" {
			info.Version = "devel"
		}
		return info
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" || info.Version == "(devel)" {
		info.Version = "devel"
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && info.Revision != "unknown" {
		info.Revision += "-dirty"
	}
	return info
}

// String is the one line `--version` prints: name, version, revision, Go.
func (i Info) String() string {
	return fmt.Sprintf("%s (revision %s, %s)", i.Version, i.Revision, i.GoVersion)
}
