// Package recordlimit holds the record-size logic of a TLS client that talks
// to servers through links which can only hold small TLS records.
//
// Two TLS extensions let a client ask for small records: max_fragment_length
// (RFC 6066), a code for 512, 1024, 2048 or 4096 bytes that binds both
// directions once the server echoes it, and record_size_limit (RFC 8449), in
// which each side states the largest record it is willing to receive. This
// package holds their codecs ([ParseMaxFragmentLength],
// [AppendMaxFragmentLength], [ParseRecordSizeLimit],
// [AppendRecordSizeLimit]), the parsers of the messages that carry a
// server's answer ([ParseServerHello], [ParseEncryptedExtensions]), the rules
// that turn a client's [Offer] and the server's answer into an [Agreement]
// ([Negotiate]), the limits that follow from it ([Agreement.Limits],
// [Expansion]), and the record framing ([Header], [ParseHeader]). [Chunked]
// adapts a transport that moves only a few hundred bytes per call, such as a
// cellular modem socket driven by AT commands.
//
// Package tlsapp applies all of this below its TLS stacks, in a record-layer
// guard of its own (internal, not part of this package): the client's guard
// learns what the server agreed to, keeps the client's records within it and
// refuses the server's records above it; the server's keeps a crypto/tls
// server's records within what the client asked for. Its errors are this
// package's.
//
// Errors carry the TLS alert they map to: [RecordOverflowError],
// [RecordHeaderError], [NegotiationError] and [ProtocolError] all implement
// Alert() and match the sentinels [ErrRecordOverflow], [ErrBadRecord],
// [ErrNegotiation] and [ErrProtocol] with errors.Is; [AlertOf] finds the
// alert in any error chain.
package recordlimit
