// Package spectest checks HTTP exchanges against GitBook's official OpenAPI
// document, from the npm package @gitbook/api. The document is fetched with
// npm on first use and cached outside the repository.
package spectest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Package and Version name the npm package that ships the document.
const (
	Package = "@gitbook/api"
	Version = "0.202.0"
)

// Path returns the path of the cached document, fetching it with npm if it
// is not there yet. INTEGRATIONS_SPEC_CACHE overrides the cache directory.
func Path() (string, error) {
	dir := os.Getenv("INTEGRATIONS_SPEC_CACHE")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "integrations-spec")
	}
	path := filepath.Join(dir, Version, "openapi.json")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := fetch(path); err != nil {
		return "", fmt.Errorf("fetch %s@%s with npm: %w", Package, Version, err)
	}
	return path, nil
}

// fetch runs npm pack and extracts spec/openapi.json to path. It writes to a
// temporary file first, so that concurrent test processes never read a
// partial document.
func fetch(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), "pack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", tmp, Package+"@"+Version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, stderr.String())
	}
	tgz, err := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if err != nil || len(tgz) != 1 {
		return fmt.Errorf("npm pack left no tarball in %s", tmp)
	}
	data, err := extract(tgz[0], "package/spec/openapi.json")
	if err != nil {
		return err
	}
	out := filepath.Join(tmp, "openapi.json")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return err
	}
	return os.Rename(out, path)
}

func extract(tgz, name string) ([]byte, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s has no %s", tgz, name)
		} else if err != nil {
			return nil, err
		}
		if h.Name == name {
			return io.ReadAll(tr)
		}
	}
}

// Spec is the loaded document with a router over its operations.
type Spec struct {
	Doc    *openapi3.T
	router routers.Router
	ext    bool // the server's own document, of the paths outside /v1
}

var (
	loadOnce sync.Once
	loaded   *Spec
	loadErr  error
)

// Load returns the document, loaded once per process.
func Load() (*Spec, error) {
	loadOnce.Do(func() {
		// HTML pages (the extensions' /app links) are text to the validator.
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
		path, err := Path()
		if err != nil {
			loadErr = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromFile(path)
		if err != nil {
			loadErr = err
			return
		}
		// The document's server is "{host}/v1"; route on a fixed host instead.
		doc.Servers = openapi3.Servers{{URL: "http://spec.invalid/v1"}}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			loadErr = err
			return
		}
		loaded = &Spec{Doc: doc, router: r}
	})
	return loaded, loadErr
}

var (
	extOnce   sync.Once
	extLoaded *Spec
	extErr    error
)

// Extensions returns the server's own document, docs/extensions.openapi.yaml,
// of what it serves outside /v1.
func Extensions() (*Spec, error) {
	extOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		path := filepath.Join(filepath.Dir(file), "..", "..", "docs", "extensions.openapi.yaml")
		doc, err := openapi3.NewLoader().LoadFromFile(path)
		if err != nil {
			extErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			extErr = fmt.Errorf("%s: %w", path, err)
			return
		}
		doc.Servers = openapi3.Servers{{URL: "http://spec.invalid"}}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			extErr = err
			return
		}
		extLoaded = &Spec{Doc: doc, router: r, ext: true}
	})
	return extLoaded, extErr
}

// ErrNotInSpec is returned for requests outside the document's paths.
var ErrNotInSpec = fmt.Errorf("not an operation of the spec")

// Operation returns the operationId of the spec's operation for a method and
// a path under /v1, or "" if the document has none.
func (s *Spec) Operation(method, path string) string {
	route, _, err := s.route(method, path, "")
	if err != nil {
		return ""
	}
	return route.Operation.OperationID
}

func (s *Spec) route(method, path, rawQuery string) (*routers.Route, map[string]string, error) {
	u := &url.URL{Scheme: "http", Host: "spec.invalid", Path: path, RawQuery: rawQuery}
	req, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	return s.router.FindRoute(req)
}

// ValidateResponse checks a response of the server to a request against the
// document: its status must be one the operation declares (or an error status
// whose shape is one of the document's error responses), and its headers and
// body must match the schema. Paths outside /v1 give ErrNotInSpec.
func (s *Spec) ValidateResponse(method, path, rawQuery string, status int, header http.Header, body []byte) error {
	if strings.HasPrefix(path, "/v1/") == s.ext {
		return ErrNotInSpec
	}
	route, params, err := s.route(method, path, rawQuery)
	if err != nil {
		// No operation: only an error in the error shape is acceptable.
		if status < 400 {
			return fmt.Errorf("%s %s has no operation in the spec but answered %d", method, path, status)
		}
		return s.validateError(status, body)
	}
	op := route.Operation
	if op.Responses.Value(strconv.Itoa(status)) == nil && op.Responses.Default() == nil {
		if status >= 400 {
			return s.validateError(status, body)
		}
		return fmt.Errorf("%s answered %d, which the spec does not declare (declared: %v)", op.OperationID, status, keys(op.Responses.Map()))
	}
	if (status == http.StatusNoContent || status == http.StatusResetContent) && len(body) > 0 {
		return fmt.Errorf("%s answered %d with a body", op.OperationID, status)
	}
	u := &url.URL{Scheme: "http", Host: "spec.invalid", Path: path, RawQuery: rawQuery}
	req, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		return err
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true,
			SchemaValidationOptions: formats}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s %d: %w", op.OperationID, status, err)
	}
	return nil
}

// formats enforces the string formats that matter to callers: absolute URIs
// and RFC 3339 timestamps.
var formats = []openapi3.SchemaValidationOption{
	openapi3.EnableFormatValidation(),
	openapi3.WithStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
			return fmt.Errorf("%q is not an absolute URI", s)
		}
		return nil
	})),
	openapi3.WithStringFormatValidator("date-time", openapi3.NewCallbackValidator(func(s string) error {
		_, err := time.Parse(time.RFC3339Nano, s)
		return err
	})),
}

// ValidateRequestBody checks a request body against an operation's schema.
func (s *Spec) ValidateRequestBody(method, path string, body []byte) error {
	route, params, err := s.route(method, path, "")
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(method, "http://spec.invalid"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	return openapi3filter.ValidateRequestBody(context.Background(), in, route.Operation.RequestBody.Value)
}

// ValidateSchema checks a JSON value (as decoded by encoding/json) against
// one of the document's component schemas, such as "Event".
func (s *Spec) ValidateSchema(name string, v any) error {
	ref := s.Doc.Components.Schemas[name]
	if ref == nil {
		return fmt.Errorf("the spec has no schema %q", name)
	}
	return ref.Value.VisitJSON(v, append([]openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()}, formats...)...)
}

// errorResponses names the document's error response for each status.
var errorResponses = map[int]string{400: "BadRequestError", 401: "UnauthorizedError", 403: "ForbiddenError", 404: "NotFoundError", 409: "ConflictError", 412: "PreconditionFailedError"}

// validateError checks an error body: against the document's response for
// the status when it has one, else against its generic Error schema; the
// code must be the status.
func (s *Spec) validateError(status int, body []byte) error {
	var schema *openapi3.Schema
	if s.ext {
		schema = s.Doc.Components.Responses["Error"].Value.Content.Get("application/json").Schema.Value
	} else if name, ok := errorResponses[status]; ok {
		schema = s.Doc.Components.Responses[name].Value.Content.Get("application/json").Schema.Value
	} else {
		schema = s.Doc.Components.Schemas["Error"].Value
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error %d body is not JSON: %q", status, body)
	}
	if err := schema.VisitJSON(v, append([]openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()}, formats...)...); err != nil {
		return fmt.Errorf("error %d body does not match the spec: %w", status, err)
	}
	var e struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(body, &e)
	if e.Error.Code != status {
		return fmt.Errorf("error body code %d differs from the status %d", e.Error.Code, status)
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
