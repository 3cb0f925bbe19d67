package api

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// The request log. One line per request is the server's most frequent
// work after the request itself: through slog's JSON handler it cost near a
// tenth of the CPU of a cached read. accessLine writes the same line, byte
// for byte (a test compares them), without slog's generic machinery.

// accessLog writes request lines to w, one Write each.
type accessLog struct {
	w    io.Writer
	bufs sync.Pool
}

func newAccessLog(w io.Writer) *accessLog {
	return &accessLog{w: w, bufs: sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}}
}

// entry is what the line of a request tells.
type entry struct {
	time     time.Time
	method   string
	route    string
	status   int
	duration time.Duration
	bytes    int
	id       string
}

func (l *accessLog) write(e entry) {
	bp := l.bufs.Get().(*[]byte)
	*bp = accessLine((*bp)[:0], e)
	l.w.Write(*bp)
	l.bufs.Put(bp)
}

// accessLine appends the line that slog.NewJSONHandler writes for
// logger.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", ...),
// slog.String("route", ...), slog.Int("status", ...),
// slog.Float64("duration_ms", ...), slog.Int("bytes", ...),
// slog.String("request_id", ...)).
func accessLine(b []byte, e entry) []byte {
	b = append(b, `{"time":"`...)
	b = e.time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, e.route)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, durationMS(e.duration), 'f', -1, 64)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(e.bytes), 10)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, e.id)
	return append(b, "}\n"...)
}

// durationMS is a duration in milliseconds, to the microsecond.
func durationMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as slog's JSON handler quotes it:
// encoding/json's escapes, with <, > and & left alone and invalid UTF-8
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, `\u00`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
