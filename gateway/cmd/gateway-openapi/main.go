// Command gateway-openapi writes the gateway's merged OpenAPI document from
// the services' document files, as the gateway serves it at /openapi.yaml:
// for linting and for generating clients without running the system.
//
//	gateway-openapi -o api.yaml auth=auth/transport/openapi.yaml doctor=doctor/transport/openapi.yaml ...
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/medisync/medisync/gateway/apidoc"
	"github.com/medisync/medisync/gateway/route"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gateway-openapi:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gateway-openapi", flag.ContinueOnError)
	out := fs.String("o", "", "output file; empty writes to standard output")
	routesFile := fs.String("routes-file", "", "route table file; empty means the built-in table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	specs := route.Defaults()
	if *routesFile != "" {
		var err error
		if specs, err = route.Load(*routesFile); err != nil {
			return err
		}
	}
	table, err := route.New(specs)
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	docs := map[string][]byte{}
	for _, a := range fs.Args() {
		svc, file, ok := strings.Cut(a, "=")
		if !ok || svc == "" || file == "" {
			return fmt.Errorf("%q is not service=file", a)
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read %s document: %w", svc, err)
		}
		docs[svc] = raw
	}
	for _, svc := range table.Services() {
		if _, ok := docs[svc]; !ok {
			return fmt.Errorf("the gateway routes to %s, whose document was not given", svc)
		}
	}
	merged, err := apidoc.Merge(table, docs)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(merged)
		return err
	}
	return os.WriteFile(*out, merged, 0o644)
}
