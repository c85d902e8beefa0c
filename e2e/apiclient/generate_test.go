package apiclient_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/medisync/medisync/e2e/apiclient"
)

// The committed client follows the services' documents: a document changed
// without `go generate` here fails now, not later as a story that waits in
// vain for the gateway to serve the document the client was made from.
func TestClientFollowsTheDocuments(t *testing.T) {
	out := filepath.Join(t.TempDir(), "openapi.yaml")
	cmd := exec.Command("go", "run", "../../gateway/cmd/gateway-openapi", "-o", out,
		"auth=../../auth/transport/openapi.yaml", "doctor=../../doctor/transport/openapi.yaml",
		"patient=../../patient/transport/openapi.yaml", "records=../../records/transport/openapi.yaml",
		"notification=../../notification/transport/openapi.yaml", "appointment=../../appointment/transport/openapi.yaml")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gateway-openapi: %v\n%s", err, msg)
	}
	merged, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(merged, apiclient.Document) {
		t.Fatal("e2e/apiclient/openapi.yaml is not the merge of the services' documents: run go generate in e2e/apiclient")
	}
}
