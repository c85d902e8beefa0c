package wire_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func fields(t *testing.T, r resp) []string {
	t.Helper()
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &p), string(r.Body))
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func jwtHeader(t *testing.T, tok string) map[string]any { return jwtPart(t, tok, 0) }
func jwtClaims(t *testing.T, tok string) map[string]any { return jwtPart(t, tok, 1) }

// tamper changes the roles in the payload and keeps the signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	c := jwtClaims(t, tok)
	c["roles"] = []string{"ADMIN"}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// unsigned re-encodes the token with alg "none" and no signature.
func unsigned(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	h := jwtHeader(t, tok)
	h["alg"] = "none"
	b, err := json.Marshal(h)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b) + "." + parts[1] + "."
}
