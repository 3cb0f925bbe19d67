package api

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestAccessLineIsSlogsLine checks that the request line is the one that
// slog's JSON handler writes for the same request, byte for byte, with
// text that needs escaping too.
func TestAccessLineIsSlogsLine(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 2, 3, 456789000, time.UTC)
	cases := []entry{
		{time: at, method: "GET", route: "GET /v1/spaces/{spaceId}/integrations", status: 200, duration: 1234567 * time.Nanosecond, bytes: 27742, id: "0123456789abcdef01234567"},
		{time: at.Truncate(time.Second), method: "POST", route: "unmatched", status: 404, duration: 0, bytes: 0, id: "a.b:c-d_e"},
		{time: at.In(time.FixedZone("X", 3600)), method: "PU\"T\\", route: "tab\there\nnew\rline <&> \x01\x1f", status: 599, duration: 90 * time.Minute, bytes: 1 << 40, id: "é\u2028\u2029\xff\xfe😀"},
		{time: at, method: "", route: "", status: 0, duration: time.Microsecond, bytes: -1, id: ""},
		{time: at, method: "GET", route: "/", status: 200, duration: 999 * time.Nanosecond, bytes: 1, id: "x"},
	}
	for _, e := range cases {
		var want bytes.Buffer
		h := slog.NewJSONHandler(&want, nil)
		r := slog.NewRecord(e.time, slog.LevelInfo, "request", 0)
		r.AddAttrs(slog.String("method", e.method), slog.String("route", e.route), slog.Int("status", e.status),
			slog.Float64("duration_ms", durationMS(e.duration)), slog.Int("bytes", e.bytes), slog.String("request_id", e.id))
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if got := accessLine(nil, e); string(got) != want.String() {
			t.Errorf("line:\n%s\nslog's:\n%s", got, want.String())
		}
	}
}

// BenchmarkAccessLine compares the request line with slog's.
func BenchmarkAccessLine(b *testing.B) {
	e := entry{time: time.Now(), method: "GET", route: "GET /v1/spaces/{spaceId}/integrations", status: 200, duration: 1234567, bytes: 27742, id: "0123456789abcdef01234567"}
	b.Run("accessLine", func(b *testing.B) {
		l := newAccessLog(discard{})
		for b.Loop() {
			l.write(e)
		}
	})
	b.Run("slog", func(b *testing.B) {
		log := slog.New(slog.NewJSONHandler(discard{}, nil))
		for b.Loop() {
			log.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("method", e.method), slog.String("route", e.route),
				slog.Int("status", e.status), slog.Float64("duration_ms", durationMS(e.duration)), slog.Int("bytes", e.bytes), slog.String("request_id", e.id))
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
