package integrations

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status code; nothing below it
// knows about HTTP.
const (
	EINVALID      = "invalid"      // malformed input: 400
	EUNAUTHORIZED = "unauthorized" // no or bad credentials: 401
	EFORBIDDEN    = "forbidden"    // the caller may see the object but not do this: 403
	ENOTFOUND     = "not_found"    // missing, or hidden from the caller: 404
	ECONFLICT     = "conflict"     // the request contradicts the current state: 409
	ETOOLARGE     = "too_large"    // a body over the size limit: 413
	ERATELIMIT    = "rate_limited" // too many requests: 429
	EINTERNAL     = "internal"     // a bug or an unexpected failure: 500
	EUNAVAILABLE  = "unavailable"  // the database does not answer: 503
)

// Error is the error type of the whole application. Its Message is safe to
// show to the caller; anything else stays in the logs.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("integrations error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an application error, EINTERNAL for any other
// error and "" for nil.
func ErrorCode(err error) string {
	if e := asError(err); e != nil {
		return e.Code
	} else if err == nil {
		return ""
	}
	return EINTERNAL
}

// asError returns the application error in err's chain, if any. An *Error
// itself, the most frequent case (a lookup's not found, checked on every
// request), is answered without errors.As, which allocates its target.
func asError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	var e *Error
	if err != nil && errors.As(err, &e) {
		return e
	}
	return nil
}

// ErrorMessage returns the message of an application error, or a generic
// message for any other error so that internals never reach the caller.
func ErrorMessage(err error) string {
	if e := asError(err); e != nil {
		return e.Message
	} else if err == nil {
		return ""
	}
	return "Internal error."
}
