package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
)

var (
	// ErrTruncated is a body that ended at the connection's close without a
	// TLS close_notify from the server: it may have been cut. It is retried.
	ErrTruncated = errors.New("download: the connection closed without close_notify before the body was known to be complete")
	// ErrIdleTimeout is an attempt that received nothing for
	// Options.IdleTimeout. It is retried.
	ErrIdleTimeout = errors.New("download: no data for the idle timeout")
	// ErrUnknownEnd is a body without Content-Length over a connection
	// that cannot say whether the server sent close_notify (not a
	// *tlsapp.Conn), with neither Options.Size nor Options.SHA256 to check
	// it against.
	ErrUnknownEnd = errors.New("download: the body ends at the connection's close and the connection cannot tell a close_notify from a cut")
	// ErrNoValidator is a partial body that cannot be continued safely: the
	// server sends no strong validator (ETag or strong Last-Modified), so a
	// Range request could splice two versions, and there is no
	// Options.SHA256 to catch that.
	ErrNoValidator = errors.New("download: the server sends no strong validator, so a partial body cannot be continued safely; give a SHA-256")
	// ErrChanged is matched by every *ChangedError.
	ErrChanged = errors.New("download: the resource changed")
	// ErrSidecar is a sidecar file that is not one this package wrote, or
	// not a regular file of this process's own.
	ErrSidecar = errors.New("download: bad sidecar file")
	// ErrHeader is a field of Options.Header that is not HTTP syntax or
	// that the download sets itself (see CheckHeader).
	ErrHeader = errors.New("download: bad request header field")
	// ErrPartFile is something at FILE.part that is not a regular file of
	// this process's own with a single link (a symbolic link, a hard link
	// to another file, a FIFO, a folder, another user's file): the
	// download refuses to write through it, and leaves it as it is.
	ErrPartFile = errors.New("download: the partial file is not a regular file of this process's own")
)

// ChangedError is a resource that changed on the server while the download
// could not start again from byte 0 (Options.NoRestart, a non-file
// destination, or too many changes in a row).
type ChangedError struct {
	Reason string // what showed the change
	Offset int64  // bytes of the earlier representation held
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("download: the resource changed (%s) after %d bytes, and the download may not start over", e.Reason, e.Offset)
}

// Is makes errors.Is(err, ErrChanged) true.
func (e *ChangedError) Is(target error) bool { return target == ErrChanged }

// StatusError is an HTTP answer the download cannot use.
type StatusError struct {
	Code   int
	Status string
}

func (e *StatusError) Error() string { return "download: the server answered " + e.Status }

// ProtocolError is a response that breaks the rules of range requests: a
// malformed Content-Range, a range other than the one asked for, a length
// that disagrees with it.
type ProtocolError struct{ Reason string }

func (e *ProtocolError) Error() string { return "download: " + e.Reason }

// SizeError is a resource whose size is not Options.Size.
type SizeError struct {
	Got, Want int64
	// AtLeast says that Got is a lower bound: the body went on past Want
	// and was stopped at the first read beyond it.
	AtLeast bool
}

func (e *SizeError) Error() string {
	if e.AtLeast {
		return fmt.Sprintf("download: the resource is more than %d bytes (%d read), expected %d", e.Want, e.Got, e.Want)
	}
	return fmt.Sprintf("download: the resource is %d bytes, expected %d", e.Got, e.Want)
}

// DigestError is a complete body whose SHA-256 is not Options.SHA256.
type DigestError struct{ Got, Want []byte }

func (e *DigestError) Error() string {
	return fmt.Sprintf("download: SHA-256 mismatch: got %x, want %x", e.Got, e.Want)
}

// Retriable reports whether a failed attempt is worth another connection:
// a dropped, reset, stalled or cut connection (io.ErrUnexpectedEOF, io.EOF,
// ECONNRESET, ECONNABORTED, EPIPE, ECONNREFUSED, a net.Error timeout,
// ErrTruncated, ErrIdleTimeout) or a server status 408, 429 or 5xx. The end
// of the caller's context and anything else (a certificate not trusted, a
// record-size violation, a changed resource) are not.
func Retriable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests
	}
	for _, target := range []error{ErrTruncated, ErrIdleTimeout, io.ErrUnexpectedEOF, io.EOF,
		syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE, syscall.ECONNREFUSED} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Cause names the kind of failure err is, for a report of why a
// reconnection happened: "truncated", "idle-timeout", "cut" (inside a body
// or record), "closed", "reset", "refused", "timeout", "status", "changed",
// "no-validator", "canceled", "emsgsize" (a record longer than the device
// holds) or "other".
func Cause(err error) string {
	var se *StatusError
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, syscall.EMSGSIZE):
		return "emsgsize"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrChanged):
		return "changed"
	case errors.Is(err, ErrNoValidator):
		return "no-validator"
	case errors.Is(err, ErrIdleTimeout):
		return "idle-timeout"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "cut"
	case errors.Is(err, io.EOF):
		return "closed"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &se):
		return "status"
	}
	return "other"
}
