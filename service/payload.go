package service

import "encoding/json"

// marshal encodes an event's payload as json.Marshal does. Every enable
// and disable sends one, so the usual payload (strings that need no
// escaping, compact raw values) is written here without reflection; any
// other goes through json.Marshal.
func (p eventPayload) marshal() ([]byte, error) {
	if b, ok := p.appendPlain(make([]byte, 0, 256)); ok {
		return b, nil
	}
	return json.Marshal(p)
}

// appendPlain appends the payload's JSON to b, in the order and with the
// omissions of its struct tags, and reports false if a string or a raw
// value would need what json.Marshal does to it (escapes, compaction).
func (p eventPayload) appendPlain(b []byte) ([]byte, bool) {
	ok := true
	str := func(name, s string, omitEmpty bool) {
		if omitEmpty && s == "" {
			return
		}
		ok = ok && plain(s)
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':', '"')
		b = append(b, s...)
		b = append(b, '"')
	}
	raw := func(name string, r json.RawMessage) {
		if len(r) == 0 {
			return
		}
		ok = ok && plainRaw(r)
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = append(b, r...)
	}
	start := len(b)
	str("eventId", p.EventID, false)
	str("type", p.Type, false)
	str("installationId", p.InstallationID, true)
	str("spaceId", p.SpaceID, true)
	str("status", string(p.Status), true)
	if p.Previous != nil {
		b = append(b, `,"previous":{`...)
		inner := len(b)
		str("status", string(p.Previous.Status), true)
		raw("configuration", p.Previous.Configuration)
		if len(b) > inner {
			b = append(b[:inner], b[inner+1:]...) // the first field's comma
		}
		b = append(b, '}')
	}
	str("previousVisibility", p.PreviousVisibility, true)
	str("visibility", p.Visibility, true)
	raw("task", p.Task)
	b[start] = '{' // the first field's comma
	return append(b, '}'), ok
}

// plain reports whether s is written as it is inside a JSON string by
// json.Marshal: printable ASCII without quotes, backslashes or the
// characters it escapes for HTML.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// plainRaw reports whether json.Marshal writes the raw value r as it is:
// valid JSON without spaces between its tokens, whose strings are plain.
func plainRaw(r json.RawMessage) bool {
	for _, c := range r {
		if c <= ' ' || c > 0x7e || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return json.Valid(r)
}
