// Package download fetches a URL over HTTPS to a file so that the file, once
// in place, is one whole representation of the resource: never a splice of
// two versions, never a body cut short.
//
// The body goes to PATH.part; a small sidecar, PATH.part.meta, holds the URL,
// the strong validator the first response carried (its ETag, or else a
// Last-Modified at least a second older than the response's Date, RFC 9110
// §13.1.5; never a weak ETag) and the size. A later process (Options.Resume)
// continues the partial file when the sidecar is of the same resource — the
// same URL, one that differs only in its query (pre-signed URLs carry a new
// signature and expiry in each), or the same Options.ResumeKey — with a Range
// request carrying If-Range with that validator, so that only the same
// representation is continued; so does every reconnection and every Range chunk
// (Options.RangeChunk). Neither file is opened through a symbolic link: the
// partial file must be a regular file of the process's own with one link
// (anything else at PATH.part is refused with ErrPartFile and left as it is),
// and is made with O_EXCL when new; a sidecar that is not such a file is not
// read, and the download starts afresh. Every 206 is checked: its Content-Range starts where
// asked, ends within what was asked, its complete length is the size seen
// first, its body ends where its headers say, and, answering If-Range, it
// shows that validator itself (RFC 9110 §15.3.7: a 206 without the ETag, or
// with another, comes from a server that ignored If-Range, and is never
// appended). A strong validator binds a size: a 200 with another validator,
// a size that changed, a body under the same validator that ends at another
// size, or a 416 whose validator no longer matches (checked with HEAD, RFC
// 9110 §15.5.17) means the resource changed: the download starts again from
// byte 0 and says so in an Event, or fails with a *ChangedError when
// Options.NoRestart forbids it. Without a strong validator a partial file is
// only continued when Options.SHA256 will catch a splice.
//
// A known size (Options.Size, the Content-Length or Content-Range complete
// length seen first, or a sidecar's) bounds the bytes held: the download
// stops at the first read that would go past it, having written none of
// that read, with a *SizeError against Options.Size or as a change.
//
// A body without Content-Length ends at the connection's close; it is
// complete only if the TLS peer sent close_notify, which a *tlsapp.Conn
// reports (Conn.CloseNotifyReceived). A close without it is ErrTruncated,
// retried like a reset, a stall (Options.IdleTimeout) or a cut inside a body;
// the decision comes from errors.Is and errors.As on typed errors
// (Retriable), with exponential backoff and jitter, Options.Retries attempts
// in a row that make no progress, and the caller's context. When the body is
// complete its size and SHA-256 are checked, the partial file is synced and
// renamed into place; the target is never written in part.
//
// A device that keeps its modem's TLS fails a connection on a record longer
// than it holds (EMSGSIZE; tlsapp.Config.DeviceLimit makes the client fail
// the same way). With Options.RangeShrink a ranged download then does what
// Nordic's download client does: it goes on from the same offset, at once,
// with a chunk 128 bytes smaller (8 below 256), down to 8 bytes. Such a
// failure is not retried otherwise: the server would send the same record
// again.
//
// The HTTP client is Options.Client (any TLS stack), or else a client over
// tlsapp.NewTransport dialled with Options.Dialer, whose connections'
// RecordStates the Result reports, those that failed after their handshake
// too. Every request carries Options.Header (a field the download sets
// itself, such as Range, is refused: CheckHeader) and a User-Agent naming
// tlsapp and its version unless Options.Header gives one. One buffer of
// Options.BufferSize bytes serves the whole download.
package download
