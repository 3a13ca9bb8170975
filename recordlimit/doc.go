// Package recordlimit holds the record-size logic of a TLS client that talks
// to servers through links which can only hold small TLS records.
//
// Two TLS extensions let a client ask for small records: max_fragment_length
// (RFC 6066), a code for 512, 1024, 2048 or 4096 bytes that binds both
// directions once the server echoes it, and record_size_limit (RFC 8449), in
// which each side states the largest record it is willing to receive. This
// package holds their codecs ([ParseMaxFragmentLength],
// [ParseRecordSizeLimit]), the rules that turn a client's [Offer] and the
// server's answer into an [Agreement] ([Negotiate]), the limits that follow
// from it ([Agreement.Limits]), and the record framing ([Header]).
//
// [Conn] applies all of this below a TLS implementation: it sits between the
// TLS stack and the transport, learns what the server agreed to by reading the
// ServerHello (and, in TLS 1.3, by decrypting the EncryptedExtensions with the
// handshake secret the stack logs), re-fragments the client's handshake records
// so none exceeds what the server is owed, checks every received record against
// the limit in force, and batches the records of one application write into
// one transport write. [Chunked] adapts a transport that moves only a few
// hundred bytes per call, such as a cellular modem socket driven by AT
// commands.
//
// The guard follows the server's handshake message by message, across and
// within records, with bounded memory, up to its Finished; whatever it
// cannot follow (a message out of place, one sharing a record across a key
// change, an unknown record type) ends the connection with the alert the
// RFCs prescribe, which reaches the server. It holds the handshake secrets
// only as long as it follows the handshake and wipes them on every exit.
//
// Errors carry the TLS alert they map to: [RecordOverflowError],
// [RecordHeaderError], [NegotiationError] and [ProtocolError] all implement
// Alert() and match the sentinels [ErrRecordOverflow], [ErrBadRecord],
// [ErrNegotiation] and [ErrProtocol] with errors.Is.
package recordlimit
