package apiclient_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/medisync/medisync/e2e/apiclient"
)

// The committed client follows the services' documents: a document changed
// without `go generate` here fails now, not later as a story that waits in
// vain for the gateway to serve the document the client was made from.
func TestClientFollowsTheDocuments(t *testing.T) {
	// The merge command and its documents are the go:generate line's own.
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^//go:generate go run (\S+) -o openapi\.yaml (.+)$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("generate.go has no go:generate line running gateway-openapi")
	}
	out := filepath.Join(t.TempDir(), "openapi.yaml")
	args := append([]string{"run", string(m[1]), "-o", out}, strings.Fields(string(m[2]))...)
	if msg, err := exec.Command("go", args...).CombinedOutput(); err != nil {
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
