// Package download fetches a URL over HTTPS to a file so that the file, once
// in place, is one whole representation of the resource: never a splice of
// two versions, never a body cut short.
//
// The body goes to PATH.part; a small sidecar, PATH.part.meta, holds the URL,
// the strong validator the first response carried (its ETag, or else a
// Last-Modified at least a second older than the response's Date, RFC 9110
// §13.1.5; never a weak ETag) and the size. A later process (Options.Resume)
// continues the partial file with a Range request carrying If-Range with that
// validator, and so does every reconnection and every Range chunk
// (Options.RangeChunk). Every 206 is checked: its Content-Range starts where
// asked, ends within what was asked, and its complete length is the size seen
// first. A 200 with another validator, a size that changed, or a 416 whose
// validator no longer matches (checked with HEAD, RFC 9110 §15.5.17) means
// the resource changed: the download starts again from byte 0 and says so in
// an Event, or fails with a *ChangedError when Options.NoRestart forbids it.
// Without a strong validator a partial file is only continued when
// Options.SHA256 will catch a splice.
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
// too. One buffer of Options.BufferSize bytes
// serves the whole download.
package download
