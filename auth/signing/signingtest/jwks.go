package signingtest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// JWKSKeys returns the keys of a JWKS document, each as its JSON members.
func JWKSKeys(t testing.TB, raw []byte) []map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	return doc.Keys
}
