package api_test

import (
	"regexp"
	"strings"
	"testing"

	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

// Every route outside /v1 is an operation of the server's own document,
// docs/extensions.openapi.yaml, under the same name: what the server adds to
// GitBook's API is all documented.
func TestExtensionRoutesAreDocumented(t *testing.T) {
	e := apitest.New(t, storetest.SQLite(t))
	param := regexp.MustCompile(`\{[^}]+\}`)
	documented := map[string]bool{}
	for _, rt := range e.API.Routes() {
		if strings.HasPrefix(rt.Pattern, "/v1/") {
			continue
		}
		path := param.ReplaceAllString(rt.Pattern, "x")
		if got := e.Ext.Operation(rt.Method, path); got != rt.Operation {
			t.Errorf("%s %s (%s): the extensions document has %q", rt.Method, rt.Pattern, rt.Operation, got)
		}
		documented[rt.Method+" "+strings.ReplaceAll(rt.Pattern, "...}", "}")] = true // {rest...} is {rest} in OpenAPI
	}
	// And the document describes nothing the server does not serve.
	for path, item := range e.Ext.Doc.Paths.Map() {
		for method := range item.Operations() {
			if !documented[method+" "+path] {
				t.Errorf("the extensions document has %s %s, which the server does not serve", method, path)
			}
		}
	}
}
