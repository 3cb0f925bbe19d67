package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"integrations"
	"integrations/service"
)

// MaxSearchLength bounds the search parameter.
const MaxSearchLength = 256

func invalid(format string, args ...any) error {
	return integrations.Errorf(integrations.EINVALID, format, args...)
}

// paging reads the page and limit parameters.
func paging(r *http.Request) (service.Paging, error) {
	p := service.Paging{Token: r.URL.Query().Get("page"), Limit: service.DefaultLimit}
	if v := r.URL.Query().Get("limit"); v != "" || r.URL.Query().Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > service.MaxLimit {
			return p, invalid("limit must be an integer from 0 to %d, not %q.", service.MaxLimit, truncate(v))
		}
		p.Limit = n
	}
	return p, nil
}

// search reads the search parameter.
func search(r *http.Request) (string, error) {
	s := r.URL.Query().Get("search")
	if utf8.RuneCountInString(s) > MaxSearchLength {
		return "", invalid("search is longer than %d characters.", MaxSearchLength)
	}
	return s, nil
}

// queryBool reads an optional boolean parameter.
func queryBool(r *http.Request, name string) (*bool, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return nil, nil
	}
	switch q.Get(name) {
	case "true":
		b := true
		return &b, nil
	case "false":
		b := false
		return &b, nil
	}
	return nil, invalid("%s must be true or false, not %q.", name, truncate(q.Get(name)))
}

// queryEnum reads an optional parameter that must be one of values.
func queryEnum(r *http.Request, name string, values ...string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", nil
	}
	for _, ok := range values {
		if v == ok {
			return v, nil
		}
	}
	return "", invalid("%s must be one of %s, not %q.", name, strings.Join(values, ", "), truncate(v))
}

// truncate shortens a value quoted in an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// decodeBody decodes a required JSON body into v. Fields the spec does not
// know are ignored, as the spec's schemas allow them.
func decodeBody(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return invalid("A JSON request body is required.")
	}
	return decodeJSON(data, v)
}

// decodeOptionalBody decodes a JSON body into v, if there is one.
func decodeOptionalBody(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return err
	}
	return decodeJSON(data, v)
}

// readBody reads the body within the size limit.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, integrations.Errorf(integrations.ETOOLARGE, "The request body is larger than %d bytes.", tooLarge.Limit)
	} else if err != nil {
		return nil, invalid("The request body could not be read.")
	}
	return data, nil
}

// decodeJSON decodes data into v, with messages that name the field at fault.
func decodeJSON(data []byte, v any) error {
	// Decoding null into a struct succeeds and sets nothing, but every body
	// of the spec is an object.
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return invalid("The request body must be a JSON object, not null.")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return jsonError(err, reflect.TypeOf(v))
	}
	if _, err := d.Token(); err != io.EOF {
		return invalid("The request body holds more than one JSON value.")
	}
	return nil
}

// jsonError turns a decoding error into a message for the caller; target is
// the type decoded into, to name fields by their JSON path.
func jsonError(err error, target reflect.Type) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var appErr *integrations.Error
	switch {
	case errors.As(err, &appErr):
		return err
	case errors.As(err, &syntax):
		return invalid("The request body is not valid JSON (at byte %d): %s.", syntax.Offset, syntax.Error())
	case errors.As(err, &typeErr):
		got := jsonValue(typeErr.Value)
		if typeErr.Field == "" {
			// Every body of the spec is an object.
			return invalid("The request body must be a JSON object, not %s.", got)
		}
		path, field := jsonPath(target, typeErr.Field)
		switch items := elem(field); {
		case items != nil && typeErr.Type != unwrap(field) && field.Kind() == reflect.Map:
			return invalid("Every value of %s must be %s, not %s.", path, jsonKind(typeErr.Type), got)
		case items != nil && typeErr.Type != unwrap(field):
			return invalid("Every item of %s must be %s, not %s.", path, jsonKind(typeErr.Type), got)
		}
		return invalid("%s must be %s, not %s.", path, jsonKind(typeErr.Type), got)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("The request body is not valid JSON: it ends too early.")
	}
	return invalid("The request body is not valid JSON: %s.", err.Error())
}

// jsonPath turns the dotted field path of a decoding error, which names the
// Go fields of embedded structs and skips array items and object keys, into
// a JSON path ("blocks[].title", "configurations.account.properties.*.type"),
// and returns the type of the field it ends at (nil when it cannot tell).
func jsonPath(t reflect.Type, goPath string) (string, reflect.Type) {
	var out []string
	for _, seg := range strings.Split(goPath, ".") {
		for t = unwrap(t); t != nil && elem(t) != nil && len(out) > 0; t = unwrap(t.Elem()) {
			if t.Kind() == reflect.Map {
				out = append(out, "*")
			} else {
				out[len(out)-1] += "[]"
			}
		}
		if t == nil || t.Kind() != reflect.Struct {
			out, t = append(out, seg), nil
			continue
		}
		if f, ok := t.FieldByName(seg); ok && f.Anonymous {
			t = f.Type // an embedded struct: its fields are the outer object's
			continue
		}
		out = append(out, seg)
		t = jsonField(t, seg)
	}
	return strings.Join(out, "."), unwrap(t)
}

// jsonField returns the type of the field of struct t whose JSON name is
// name, nil when there is none.
func jsonField(t reflect.Type, name string) reflect.Type {
	for _, f := range reflect.VisibleFields(t) {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name || (tag == "" && strings.EqualFold(f.Name, name)) {
			return f.Type
		}
	}
	return nil
}

// unwrap removes pointers and Optional around a type.
func unwrap(t reflect.Type) reflect.Type {
	for t != nil {
		switch {
		case t.Kind() == reflect.Pointer:
			t = t.Elem()
		case t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "Optional["):
			f, _ := t.FieldByName("Value")
			t = f.Type
		default:
			return t
		}
	}
	return nil
}

// elem returns the type of the items of an array or the values of an
// object, nil for other types.
func elem(t reflect.Type) reflect.Type {
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
		return t.Elem()
	}
	return nil
}

// jsonKind names the JSON value that a Go type decodes, with its article.
func jsonKind(t reflect.Type) string {
	switch t = unwrap(t); {
	case t == nil:
		return "another value"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "a boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "an array"
	case t.Kind() == reflect.Map || t.Kind() == reflect.Struct:
		return "an object"
	}
	return "another value"
}

// jsonValue names the JSON value of a decoding error ("number", "array",
// "number 1e400", ...) with its article.
func jsonValue(v string) string {
	switch v {
	case "array", "object":
		return "an " + v
	case "bool":
		return "a boolean"
	case "string", "number":
		return "a " + v
	}
	if n, ok := strings.CutPrefix(v, "number "); ok {
		return "the number " + truncate(n)
	}
	return truncate(v)
}

// Optional is a JSON field that tells apart absent, null and a value.
type Optional[T any] struct {
	Set   bool // present in the body
	Null  bool // present as null
	Value T
}

// UnmarshalJSON records that the field was present.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// ptr returns a pointer to the value when set and not null.
func (o Optional[T]) ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	return &o.Value
}
