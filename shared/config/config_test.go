package config_test

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("svc", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"db-dsn":           "MEDISYNC_DB_DSN",
		"http-addr":        "MEDISYNC_HTTP_ADDR",
		"rate-limit.burst": "MEDISYNC_RATE_LIMIT_BURST",
		"jwks-url":         "MEDISYNC_JWKS_URL",
		"x":                "MEDISYNC_X",
	} {
		assert.Equal(t, want, config.EnvName(in), in)
	}
}

func TestParsePrecedence(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, "sqlite:./data/doctor.db"},
		{"env beats default", nil, map[string]string{"MEDISYNC_DB_DSN": "sqlite:/env.db"}, "sqlite:/env.db"},
		{"flag beats env", []string{"-db-dsn", "sqlite:/flag.db"}, map[string]string{"MEDISYNC_DB_DSN": "sqlite:/env.db"}, "sqlite:/flag.db"},
		{"flag equal to default still beats env", []string{"--db-dsn=sqlite:./data/doctor.db"}, map[string]string{"MEDISYNC_DB_DSN": "sqlite:/env.db"}, "sqlite:./data/doctor.db"},
		{"empty env value is a value", nil, map[string]string{"MEDISYNC_DB_DSN": ""}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c config.Common
			fs := newFlagSet()
			c.Register(fs, ":8082", "sqlite:./data/doctor.db")

			require.NoError(t, config.Parse(fs, tc.args, env(tc.env)))

			assert.Equal(t, tc.want, c.DBDSN)
		})
	}
}

func TestCommonDefaults(t *testing.T) {
	var c config.Common
	fs := newFlagSet()
	c.Register(fs, ":8083", "sqlite:./data/patient.db")

	require.NoError(t, config.Parse(fs, nil, env(nil)))

	assert.Equal(t, ":8083", c.HTTPAddr)
	assert.Empty(t, c.AdvertiseAddr)
	assert.Equal(t, "sqlite:./data/patient.db", c.DBDSN)
	assert.Empty(t, c.DBMigrateDSN, "migrations use -db-dsn unless told otherwise")
	assert.Equal(t, "http://127.0.0.1:8761", c.DiscoveryURLs)
	assert.Empty(t, c.DiscoveryToken)
	assert.Empty(t, c.JWKSURL)
	assert.Equal(t, "logfmt", c.LogFormat)
	assert.Equal(t, "info", c.LogLevel)
	assert.Equal(t, 15*time.Second, c.ShutdownTimeout)
	assert.Equal(t, []string{"http://127.0.0.1:8761"}, c.DiscoveryList())
}

func TestCommonFromEnv(t *testing.T) {
	var c config.Common
	fs := newFlagSet()
	c.Register(fs, ":8081", "sqlite:./data/auth.db")

	require.NoError(t, config.Parse(fs, []string{"-log-level", "debug"}, env(map[string]string{
		"MEDISYNC_HTTP_ADDR":        ":9000",
		"MEDISYNC_ADVERTISE_ADDR":   "10.0.0.5:9000",
		"MEDISYNC_DISCOVERY_URLS":   "http://a:8761, http://b:8761,",
		"MEDISYNC_DISCOVERY_TOKEN":  "t0k",
		"MEDISYNC_JWKS_URL":         "http://auth/.well-known/jwks.json",
		"MEDISYNC_LOG_FORMAT":       "json",
		"MEDISYNC_LOG_LEVEL":        "error",
		"MEDISYNC_SHUTDOWN_TIMEOUT": "3s",
	})))

	assert.Equal(t, ":9000", c.HTTPAddr)
	assert.Equal(t, "10.0.0.5:9000", c.AdvertiseAddr)
	assert.Equal(t, []string{"http://a:8761", "http://b:8761"}, c.DiscoveryList())
	assert.Equal(t, "t0k", c.DiscoveryToken)
	assert.Equal(t, "http://auth/.well-known/jwks.json", c.JWKSURL)
	assert.Equal(t, "json", c.LogFormat)
	assert.Equal(t, "debug", c.LogLevel, "the flag wins")
	assert.Equal(t, 3*time.Second, c.ShutdownTimeout)
}

func TestRegisterWithoutDatabase(t *testing.T) {
	var c config.Common
	fs := newFlagSet()
	c.Register(fs, ":8080", "")

	assert.Nil(t, fs.Lookup("db-dsn"))
	assert.Nil(t, fs.Lookup("db-migrate-dsn"))
	require.NoError(t, config.Parse(fs, nil, env(map[string]string{"MEDISYNC_DB_DSN": "sqlite:/x.db"})))
	assert.Empty(t, c.DBDSN)
}

func TestParseBadEnvNamesTheVariable(t *testing.T) {
	var c config.Common
	fs := newFlagSet()
	c.Register(fs, ":8080", "")

	err := config.Parse(fs, nil, env(map[string]string{"MEDISYNC_SHUTDOWN_TIMEOUT": "soon"}))

	require.Error(t, err)
	assert.Contains(t, err.Error(), "MEDISYNC_SHUTDOWN_TIMEOUT")
}

func TestParseBadFlag(t *testing.T) {
	var c config.Common
	fs := newFlagSet()
	c.Register(fs, ":8080", "")

	assert.Error(t, config.Parse(fs, []string{"-shutdown-timeout", "soon"}, nil))
	assert.Error(t, config.Parse(newFlagSet(), []string{"-nope"}, nil))
}

func TestParseServiceFlag(t *testing.T) {
	fs := newFlagSet()
	rps := fs.Float64("rate-limit-rps", 50, "")
	burst := fs.Int("rate-limit-burst", 100, "")

	require.NoError(t, config.Parse(fs, nil, env(map[string]string{
		"MEDISYNC_RATE_LIMIT_RPS":   "0",
		"MEDISYNC_RATE_LIMIT_BURST": "7",
	})))

	assert.Zero(t, *rps)
	assert.Equal(t, 7, *burst)
}

func TestParseNilLookup(t *testing.T) {
	fs := newFlagSet()
	addr := fs.String("http-addr", ":1", "")

	require.NoError(t, config.Parse(fs, nil, nil))

	assert.Equal(t, ":1", *addr)
}

func TestSplitList(t *testing.T) {
	assert.Nil(t, config.SplitList(""))
	assert.Nil(t, config.SplitList(" , ,"))
	assert.Equal(t, []string{"a"}, config.SplitList("a"))
	assert.Equal(t, []string{"a", "b c", "d"}, config.SplitList(" a ,b c,, d "))
}

func TestMigrateDSNFromFlagOrEnv(t *testing.T) {
	owner := "mysql://owner:pw@tcp(db:3306)/medisync_auth_db?parseTime=true"
	for name, args := range map[string][]string{"env": nil, "flag": {"-db-migrate-dsn", owner}} {
		t.Run(name, func(t *testing.T) {
			var c config.Common
			fs := newFlagSet()
			c.Register(fs, ":8081", "sqlite:./data/auth.db")
			lookup := env(map[string]string{"MEDISYNC_DB_MIGRATE_DSN": owner})
			if args != nil {
				lookup = env(nil)
			}
			require.NoError(t, config.Parse(fs, args, lookup))
			assert.Equal(t, owner, c.DBMigrateDSN)
			assert.Equal(t, "sqlite:./data/auth.db", c.DBDSN)
		})
	}
}
