// Package buildinfo holds the version, commit and build date of a medisync
// binary, set at build time and exported as a metric.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Set at build time, e.g.
//
//	go build -ldflags "-X github.com/medisync/medisync/shared/buildinfo.Version=1.4.0
//	  -X github.com/medisync/medisync/shared/buildinfo.Commit=$(git rev-parse HEAD)
//	  -X github.com/medisync/medisync/shared/buildinfo.Date=$(date -u +%FT%TZ)"
//
// Left empty, Commit and Date come from the VCS stamp Go embeds when it
// builds inside a git checkout (scripts/images.sh sets all three).
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Info describes one build.
type Info struct {
	Version   string
	Commit    string
	Date      string
	GoVersion string
	// Modified is true when the working tree had uncommitted changes.
	Modified bool
}

// Get returns this binary's build: the linker-set values, completed from
// the embedded VCS stamp.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		i = fill(i, bi.Settings)
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	if i.Date == "" {
		i.Date = "unknown"
	}
	return i
}

// fill completes what the linker left empty from the build settings.
func fill(i Info, settings []debug.BuildSetting) Info {
	stamped := i.Commit == "" && i.Date == ""
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			if i.Commit == "" {
				i.Commit = s.Value
			}
		case "vcs.time":
			if i.Date == "" {
				i.Date = s.Value
			}
		case "vcs.modified":
			// Only the VCS stamp knows; a linker-set commit is taken as is.
			i.Modified = stamped && s.Value == "true"
		}
	}
	return i
}

// ShortCommit is the commit's first 12 characters.
func (i Info) ShortCommit() string {
	if len(i.Commit) > 12 {
		return i.Commit[:12]
	}
	return i.Commit
}

// String is the line -version prints: "auth 1.4.0 (commit 0123abcd..., built
// 2027-03-01T10:00:00Z, go1.26.0)".
func (i Info) String(name string) string {
	commit := i.Commit
	if i.Modified {
		commit += "+modified"
	}
	return fmt.Sprintf("%s %s (commit %s, built %s, %s)", name, i.Version, commit, i.Date, i.GoVersion)
}

// Register adds medisync_build_info{version,commit,date,goversion} = 1 to reg,
// so a dashboard can show which build each instance runs.
func Register(reg prometheus.Registerer, i Info) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "medisync",
		Name:      "build_info",
		Help:      "The build of this binary: version, commit and build date as labels; always 1.",
		ConstLabels: prometheus.Labels{
			"version": i.Version, "commit": i.Commit, "date": i.Date, "goversion": i.GoVersion,
		},
	})
	g.Set(1)
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("build info metric: %w", err)
	}
	return nil
}
