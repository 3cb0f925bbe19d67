package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"integrations"
)

// statuses maps application error codes to HTTP status codes: the only place
// where that happens.
var statuses = map[string]int{
	integrations.EINVALID:      http.StatusBadRequest,
	integrations.EUNAUTHORIZED: http.StatusUnauthorized,
	integrations.EFORBIDDEN:    http.StatusForbidden,
	integrations.ENOTFOUND:     http.StatusNotFound,
	integrations.ECONFLICT:     http.StatusConflict,
	integrations.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	integrations.ERATELIMIT:    http.StatusTooManyRequests,
	integrations.EINTERNAL:     http.StatusInternalServerError,
	integrations.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// httpError is an error that only exists at the HTTP level, such as 405.
type httpError struct {
	status  int
	message string
}

func (e *httpError) Error() string { return e.message }

// errorBody is the spec's error shape.
type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError writes err in the spec's error shape. Internal errors are logged
// with the request id; the caller sees only a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	var he *httpError
	if errors.As(err, &he) {
		body.Error.Code, body.Error.Message = he.status, he.message
	} else {
		code := integrations.ErrorCode(err)
		body.Error.Code, body.Error.Message = statuses[code], integrations.ErrorMessage(err)
		if code == integrations.EINTERNAL || code == integrations.EUNAVAILABLE {
			s.log.Error("request failed", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "error", err)
		}
	}
	if body.Error.Code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, body.Error.Code, body)
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b := jsonBuffers.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= 64<<10 { // a large one goes, rather than sit in the pool
			jsonBuffers.Put(b)
		}
	}()
	b.Reset()
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		// Only values built by this package reach here; they always encode.
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes()) // copied before it returns: the buffer may serve again
}

// jsonBuffers are writeJSON's buffers, kept from one answer to the next
// (the answers of writes: those of reads are kept whole by the cache).
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
