// Package config reads a service's settings from flags and from MEDISYNC_*
// environment variables of the same meaning; a flag given on the command line
// wins over the environment, which wins over the default.
package config

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// EnvName is the environment variable for a flag: "db-dsn" -> MEDISYNC_DB_DSN.
func EnvName(flagName string) string {
	return "MEDISYNC_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// Parse parses args into fs, then fills every flag not given on the command
// line from its environment variable, read through lookup (os.LookupEnv in
// production, a map in tests).
func Parse(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || lookup == nil {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", EnvName(f.Name), e)
			}
		}
	})
	return err
}

// Common holds the settings every service has.
type Common struct {
	HTTPAddr      string
	AdvertiseAddr string
	DBDSN         string
	// DBMigrateDSN, when set, is the database user that applies the
	// migrations (the schema owner); DBDSN then only serves, and may lack
	// the rights to change the schema.
	DBMigrateDSN    string
	DiscoveryURLs   string
	DiscoveryToken  string
	DiscoveryTTL    time.Duration
	JWKSURL         string
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
	// OTLPEndpoint, when set, receives the traces over OTLP/HTTP; empty
	// turns tracing off.
	OTLPEndpoint string
}

// Register defines the common flags on fs with the service's defaults.
// defaultDSN may be "" for a service without a database.
func (c *Common) Register(fs *flag.FlagSet, defaultAddr, defaultDSN string) {
	fs.StringVar(&c.HTTPAddr, "http-addr", defaultAddr, "address to listen on")
	fs.StringVar(&c.AdvertiseAddr, "advertise-addr", "", "host:port others reach this instance at, [v6]:port for an IPv6 address, or a host alone to keep the listening port (default: 127.0.0.1 and the listening port)")
	if defaultDSN != "" {
		fs.StringVar(&c.DBDSN, "db-dsn", defaultDSN, "database: sqlite:<path>, mysql://user:pass@tcp(host:port)/db?parseTime=true or postgres://user:pass@host:port/db?sslmode=disable")
		fs.StringVar(&c.DBMigrateDSN, "db-migrate-dsn", "", "database user that applies the migrations, same database as -db-dsn (default: -db-dsn itself)")
	}
	fs.StringVar(&c.DiscoveryURLs, "discovery-urls", "http://127.0.0.1:8761", "comma-separated discovery server URLs; empty disables registration")
	fs.StringVar(&c.DiscoveryToken, "discovery-token", "", "shared token for discovery writes")
	fs.DurationVar(&c.DiscoveryTTL, "discovery-ttl", 30*time.Second, "lease asked of discovery, 5s to 5m (a service refuses to start with another); heartbeats go every third of it")
	fs.StringVar(&c.JWKSURL, "jwks-url", "", "URL of the auth JWKS (default: auth found through discovery)")
	fs.StringVar(&c.LogFormat, "log-format", "logfmt", "log format: logfmt or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to drain in-flight requests on shutdown")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "OpenTelemetry collector receiving the traces over OTLP/HTTP (http://collector:4318); empty turns tracing off")
}

// DiscoveryList returns the discovery URLs as a list, empty entries dropped.
func (c *Common) DiscoveryList() []string {
	return SplitList(c.DiscoveryURLs)
}

// SplitList splits a comma-separated setting, trimming blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
