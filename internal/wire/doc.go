// Package wire holds the TLS codecs that tlsapp's record guards
// (internal/guard) and its client share and that a user of the library never
// calls: record framing ([Header], [ParseHeader]), the parsers of the
// messages that carry a server's record-size answer ([ParseServerHello],
// [ParseEncryptedExtensions]), the max_fragment_length and
// record_size_limit extension bodies, the RFC 6066 and RFC 8449 rules that
// turn a client's [recordlimit.Offer] and the server's answer into an
// [Agreement] ([NegotiateServerHello], [NegotiateEncryptedExtensions]), and
// the [Limits] that follow from it.
//
// Its errors are recordlimit's, so that errors.Is with recordlimit's
// sentinels and [recordlimit.AlertOf] work on every path: a malformed
// header is a *recordlimit.RecordHeaderError or *recordlimit.RecordOverflowError,
// a malformed hello or a forbidden answer a *recordlimit.NegotiationError.
package wire
