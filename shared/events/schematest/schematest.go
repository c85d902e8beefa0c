// Package schematest checks events against their documented contracts:
// the envelope and the data schema docs/events/<type>.v<N>.json.
package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/medisync/medisync/shared/events"
)

// Dir returns the docs/events folder of the repository the test runs in.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, "docs", "events")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.work above the test's folder")
		}
		dir = parent
	}
}

// Check reports whether ev's envelope and data follow their schemas.
func Check(dir string, ev events.Event) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s: %w", ev.Type, err)
	}
	if err := validate(filepath.Join(dir, "envelope.v1.json"), raw); err != nil {
		return fmt.Errorf("%s envelope: %w", ev.Type, err)
	}
	path := filepath.Join(dir, filepath.Base(ev.DataSchema))
	if ev.DataSchema != "docs/events/"+filepath.Base(ev.DataSchema) {
		return fmt.Errorf("%s: dataschema %q is not under docs/events/", ev.Type, ev.DataSchema)
	}
	if err := validate(path, ev.Data); err != nil {
		return fmt.Errorf("%s data: %w", ev.Type, err)
	}
	return nil
}

// Validate fails the test unless ev follows its schemas.
func Validate(t testing.TB, ev events.Event) {
	t.Helper()
	if err := Check(Dir(t), ev); err != nil {
		t.Errorf("event does not follow its contract: %v", err)
	}
}

func validate(schemaPath string, doc []byte) error {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(schemaPath)
	if err != nil {
		return fmt.Errorf("schema %s: %w", filepath.Base(schemaPath), err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return sch.Validate(v)
}
