// Package probe answers "will a device that can only hold small TLS records
// work with this server?".
//
// Run makes a series of real connections with tlsapp: one plain connection
// per TLS version (no record-size extension, then a second one that tries to
// resume), and one per version, extension (max_fragment_length,
// record_size_limit) and size (512 to 4096 bytes). On each it sends an HTTP
// GET and reads the answer for a bounded time and amount, and records what
// the wire showed: version and cipher suite, what was offered and agreed,
// the largest record per direction and content type (from tlsapp's
// Config.Trace), the HTTP header and body sizes, the record layout of the
// response, the certificate compression algorithm the server used (from
// tlsapp.RecordState, read from the decrypted handshake), and, when a
// connection fails, a typed cause (Failure: an expired leaf, an unknown
// authority, an alert, ...), decided with errors.Is and errors.As.
//
// The verdict is a pure function of the Report and the device limit
// (Report.Verdict). Every bound is computed for the version and cipher
// suite the connection actually used (recordlimit.Expansion): a TLS 1.2
// AES-GCM record carrying 2048 bytes is 2072 bytes long, a TLS 1.3 one
// 2065; a record in the clear (a hello, a TLS 1.2 Certificate) fits a
// device only within the limit itself. The verdicts are: works (agreed and
// kept): the server answered an extension at or below the limit and kept
// to it; works (capped without answering): it answered none, but every
// record stayed within the limit over a body large enough (EvidenceBytes)
// to have needed bigger records; fits only by luck: the records fitted, but
// there was too little data to tell; fails. The recommendation is the offer
// that fits with the fewest records (the largest limit kept); each reason
// names the row it comes from with that row's figures (an agreement broken
// is not "answered neither"); handshake records a device without
// record_size_limit cannot hold are flagged even where RFC 8449 allows
// them; and a device that fails gets the remedies that leave the server as
// it is: TLS on the application core, a modem-safe edge, or Range requests.
//
// For a device that keeps its modem's TLS and cannot offer an extension,
// MeasureRange (also run by Run when Options.DeviceLimit is set) finds the
// largest HTTP Range chunk for which every record stays within the limit,
// measured as such a device downloads: sequential Range requests from byte
// 0 on one kept-alive connection that fails, as the device's would, on any
// record above the limit (tlsapp.Config.DeviceLimit). Servers such as Go's
// net/http put the response header and the body in one record, so a
// 2048-byte chunk comes in a record of about 2300 bytes; stacks such as
// Go's crypto/tls size records by the connection's age, so a measurement on
// fresh connections sees records smaller than the device will.
package probe
