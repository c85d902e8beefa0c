// Package apidoc serves the gateway's API reference: one OpenAPI document
// merged from the documents of the services it routes to, under the
// gateway's public paths, and a Redoc page that renders it.
package apidoc

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/medisync/medisync/gateway/route"
)

// methods are the operation keys of an OpenAPI path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// pathParam matches a path template's parameters, for sample paths.
var pathParam = regexp.MustCompile(`\{[^/{}]+\}`)

// Merge combines the services' documents (service name to YAML) into the
// gateway's. An operation is kept only when the table routes its method and
// path to the service whose document names it, so internal routes (metrics,
// health, the revocation feed) stay out. Components of the same name and
// content are kept once; a name two services define differently is renamed
// after its service in the later one. Every operation gains the answers the
// gateway itself may give: 429, 502, 503 and 504.
func Merge(table *route.Table, docs map[string][]byte) ([]byte, error) {
	out := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "medisync API",
			"version": "1.0",
			"description": "The public API of medisync as the gateway serves it: the documents of the services it " +
				"routes to, merged, under the paths clients use. The gateway checks the bearer token of every " +
				"route that is not public, limits the rate of requests (429 with Retry-After), and answers 502, " +
				"503 or 504 when a service cannot. Errors are RFC 9457 problem documents; their `type` values " +
				"are listed in docs/errors.md.",
		},
		"servers": []any{map[string]any{"url": "/"}},
	}
	paths := map[string]any{}
	components := map[string]any{}
	var tags []any
	seenTags := map[string]bool{}

	// Only the services the table routes to; their order makes renames stable.
	for _, svc := range table.Services() {
		if docs[svc] == nil {
			continue
		}
		var doc map[string]any
		if err := yaml.Unmarshal(docs[svc], &doc); err != nil {
			return nil, fmt.Errorf("%s document: %w", svc, err)
		}
		renames := mergeComponents(components, asMap(doc["components"]), svc)
		security, hasSecurity := doc["security"]
		if !hasSecurity {
			security = []any{}
		}
		for p, v := range asMap(doc["paths"]) {
			item := keptOperations(table, svc, p, asMap(v), security)
			if item == nil {
				continue
			}
			if _, dup := paths[p]; dup {
				return nil, fmt.Errorf("%s document: path %s is also in another service's document", svc, p)
			}
			paths[p] = rewriteRefs(item, renames)
		}
		for _, t := range asSlice(doc["tags"]) {
			name, _ := asMap(t)["name"].(string)
			if name != "" && !seenTags[name] {
				seenTags[name] = true
				tags = append(tags, t)
			}
		}
	}
	addGatewayAnswers(paths, components)
	for p, item := range ownPaths() {
		paths[p] = item
	}
	tags = append(tags, map[string]any{"name": "reference", "description": "This document and the page that renders it."})
	prune(paths, components)
	tags = usedTags(tags, paths)
	out["paths"] = paths
	out["components"] = components
	if len(tags) > 0 {
		out["tags"] = tags
	}
	// Keys in the usual order, for readers; the encoder would sort them.
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range []string{"openapi", "info", "servers", "security", "tags", "paths", "components"} {
		v, ok := out[k]
		if !ok {
			continue
		}
		var val yaml.Node
		if err := val.Encode(v); err != nil {
			return nil, fmt.Errorf("encode merged document: %w", err)
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &val)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode merged document: %w", err)
	}
	return buf.Bytes(), nil
}

// keptOperations returns the operations of item that the table routes to
// svc, with the item's shared fields, or nil when there is none.
// Operations without their own security requirement get the document's,
// since the merged document's differs.
func keptOperations(table *route.Table, svc, path string, item map[string]any, security any) map[string]any {
	sample := pathParam.ReplaceAllString(path, "x")
	kept := map[string]any{}
	for k, v := range item {
		if !isMethod(k) {
			kept[k] = v
		}
	}
	n := 0
	for _, m := range methods {
		op, ok := item[m]
		if !ok {
			continue
		}
		rt, _ := table.Match(strings.ToUpper(m), sample)
		if rt == nil || rt.Service != svc {
			continue
		}
		if o := asMap(op); o != nil {
			if _, ok := o["security"]; !ok {
				o["security"] = security
			}
		}
		kept[m] = op
		n++
	}
	if n == 0 {
		return nil
	}
	return kept
}

func isMethod(k string) bool {
	for _, m := range methods {
		if k == m {
			return true
		}
	}
	return false
}

// mergeComponents adds the components of one service to merged and returns
// the renames of the names it had to change, as "#/components/kind/name"
// references old to new.
func mergeComponents(merged, comps map[string]any, svc string) map[string]string {
	renames := map[string]string{}
	// Renaming one component changes the references of the others, which
	// may then differ from a same-named merged one: repeat until stable.
	for changed := true; changed; {
		changed = false
		for kind, defs := range comps {
			have := asMap(merged[kind])
			for name, def := range asMap(defs) {
				ref := "#/components/" + kind + "/" + name
				if _, done := renames[ref]; done {
					continue
				}
				if prev, ok := have[name]; ok && !reflect.DeepEqual(prev, rewriteRefs(def, renames)) {
					renames[ref] = "#/components/" + kind + "/" + svc + "_" + name
					changed = true
				}
			}
		}
	}
	for kind, defs := range comps {
		have := asMap(merged[kind])
		if have == nil {
			have = map[string]any{}
			merged[kind] = have
		}
		for name, def := range asMap(defs) {
			target := name
			if to, ok := renames["#/components/"+kind+"/"+name]; ok {
				target = to[strings.LastIndex(to, "/")+1:]
			}
			if _, ok := have[target]; !ok {
				have[target] = rewriteRefs(def, renames)
			}
		}
	}
	return renames
}

// rewriteRefs returns v with the $ref values renamed.
func rewriteRefs(v any, renames map[string]string) any {
	if len(renames) == 0 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				if to, ok := renames[s]; ok {
					e = to
				}
			}
			out[k] = rewriteRefs(e, renames)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = rewriteRefs(e, renames)
		}
		return out
	}
	return v
}

// gatewayAnswers are the answers the gateway itself gives on any route: a
// query string that does not parse or a body it cannot read (400), a body
// that stalls (408) or exceeds its limit (413), its rate limit and the
// upstream's faults.
var gatewayAnswers = map[string]string{
	"400": "GatewayBadRequest",
	"408": "GatewayRequestTimeout",
	"413": "GatewayContentTooLarge",
	"429": "GatewayTooManyRequests",
	"502": "BadGateway",
	"503": "GatewayUnavailable",
	"504": "GatewayTimeout",
}

func addGatewayAnswers(paths, components map[string]any) {
	responses := asMap(components["responses"])
	if responses == nil {
		responses = map[string]any{}
		components["responses"] = responses
	}
	schemas := asMap(components["schemas"])
	if schemas == nil {
		schemas = map[string]any{}
		components["schemas"] = schemas
	}
	if _, ok := schemas["Problem"]; !ok {
		schemas["Problem"] = map[string]any{"type": "object", "description": "An RFC 9457 problem document."}
	}
	problem := map[string]any{"application/problem+json": map[string]any{
		"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}
	retry := map[string]any{"Retry-After": map[string]any{
		"description": "Whole seconds to wait before trying again.",
		"schema":      map[string]any{"type": "integer", "minimum": 1}}}
	responses["GatewayBadRequest"] = map[string]any{
		"description": "A query string that does not parse (`urn:medisync:problem:validation`, naming the parameter), or a body the gateway could not read.",
		"content":     problem}
	responses["GatewayRequestTimeout"] = map[string]any{
		"description": "The request body did not arrive in time.", "content": problem}
	responses["GatewayContentTooLarge"] = map[string]any{
		"description": "The request body exceeds the gateway's limit.", "content": problem}
	responses["GatewayTooManyRequests"] = map[string]any{
		"description": "The gateway's rate limit for the caller (or the client address) is spent (`urn:medisync:problem:rate-limited`).",
		"headers":     retry, "content": problem}
	// A 502 or 504 says when to try again only when the request is safe to
	// send again: a POST or PATCH the instance got may have been carried out.
	retryIfSafe := func(when string) map[string]any {
		return map[string]any{"Retry-After": map[string]any{
			"description": "Whole seconds to wait before trying again; sent " + when + ", never when a POST or PATCH reached the service, which may have carried it out.",
			"schema":      map[string]any{"type": "integer", "minimum": 1}}}
	}
	responses["BadGateway"] = map[string]any{
		"description": "The service could not be reached or failed to answer.",
		"headers":     retryIfSafe("when the service could not be reached, or the request is idempotent (GET, HEAD, OPTIONS, PUT, DELETE)"),
		"content":     problem}
	responses["GatewayUnavailable"] = map[string]any{
		"description": "No instance of the service is available, or the service cannot answer now.",
		"headers":     retry, "content": problem}
	responses["GatewayTimeout"] = map[string]any{
		"description": "The service did not answer in time.",
		"headers":     retryIfSafe("when the request is idempotent (GET, HEAD, OPTIONS, PUT, DELETE)"),
		"content":     problem}
	for _, item := range paths {
		for _, m := range methods {
			op := asMap(asMap(item)[m])
			if op == nil {
				continue
			}
			res := asMap(op["responses"])
			for status, name := range gatewayAnswers {
				if _, ok := res[status]; !ok {
					res[status] = map[string]any{"$ref": "#/components/responses/" + name}
				}
			}
		}
	}
}

// ownPaths are the gateway's own reference paths.
func ownPaths() map[string]any {
	text := func(summary, opID, desc, mediaType string) map[string]any {
		return map[string]any{"get": map[string]any{
			"tags": []any{"reference"}, "summary": summary, "operationId": opID, "security": []any{},
			"responses": map[string]any{"200": map[string]any{
				"description": desc,
				"content":     map[string]any{mediaType: map[string]any{"schema": map[string]any{"type": "string"}}},
			}},
		}}
	}
	doc := map[string]any{"get": map[string]any{
		"tags": []any{"reference"}, "summary": "This document", "operationId": "gatewayOpenAPI", "security": []any{},
		"responses": map[string]any{
			"200": map[string]any{
				"description": "The OpenAPI document of the public API.",
				"content": map[string]any{"application/yaml": map[string]any{
					"schema": map[string]any{"type": "object", "description": "An OpenAPI 3.0 document."}}},
			},
			"503": map[string]any{"$ref": "#/components/responses/GatewayUnavailable"},
		},
	}}
	return map[string]any{
		DocumentPath: doc,
		PagePath:     text("The API reference page", "gatewayDocs", "The page; Redoc renders this document in it.", "text/html"),
		ScriptPath:   text("Redoc's script", "gatewayDocsScript", "Redoc's standalone bundle.", "text/javascript"),
	}
}

// usedTags keeps the tags some operation names.
func usedTags(tags []any, paths map[string]any) []any {
	used := map[string]bool{}
	for _, item := range paths {
		for _, m := range methods {
			for _, t := range asSlice(asMap(asMap(item)[m])["tags"]) {
				if s, ok := t.(string); ok {
					used[s] = true
				}
			}
		}
	}
	var out []any
	for _, t := range tags {
		if name, _ := asMap(t)["name"].(string); used[name] {
			out = append(out, t)
		}
	}
	return out
}

// prune drops the components no kept operation reaches: the services'
// internal routes took their references with them.
func prune(paths, components map[string]any) {
	used := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "$ref" && !used[s] {
					used[s] = true
					kind, name, _ := strings.Cut(strings.TrimPrefix(s, "#/components/"), "/")
					walk(asMap(components[kind])[name])
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(paths)
	schemes := map[string]bool{}
	for _, item := range paths {
		for _, m := range methods {
			for _, req := range asSlice(asMap(asMap(item)[m])["security"]) {
				for name := range asMap(req) {
					schemes[name] = true
				}
			}
		}
	}
	for kind, defs := range components {
		for name := range asMap(defs) {
			if kind == "securitySchemes" && schemes[name] || used["#/components/"+kind+"/"+name] {
				continue
			}
			delete(asMap(defs), name)
		}
		if len(asMap(defs)) == 0 {
			delete(components, kind)
		}
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
