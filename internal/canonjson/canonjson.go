// Package canonjson encodes values as JSON in a canonical form, where
// absent, null, empty and false values are alike, so that two values can be
// compared by what they hold rather than by how their fields were left
// unset.
package canonjson

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// String returns v's canonical JSON: its JSON encoding with every empty
// string, false, empty object, empty array and null left out, and JSON
// numbers kept as written. A value that cannot be encoded gives a text that
// says so, which equals no canonical JSON.
func String(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unencodable %T: %v", v, err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var generic any
	if err := d.Decode(&generic); err != nil {
		return err.Error()
	}
	out, _ := json.Marshal(dropEmpty(generic))
	return string(out)
}

// dropEmpty returns v without its empty parts, nil if nothing is left.
func dropEmpty(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e = dropEmpty(e); e == nil {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		if len(v) == 0 {
			return nil
		}
	case []any:
		for n, e := range v {
			v[n] = dropEmpty(e)
		}
		if len(v) == 0 {
			return nil
		}
	case string:
		if v == "" {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	}
	return v
}
