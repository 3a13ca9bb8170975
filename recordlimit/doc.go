// Package recordlimit holds what a user of tlsapp needs to ask a server for
// small TLS records and to understand the answer: the request, what was
// agreed, the arithmetic of record sizes and the errors.
//
// Two TLS extensions let a client ask for small records: max_fragment_length
// (RFC 6066), whose value is a code ([MaxFragmentCode], not a length: MFL512
// stands for 512 bytes) and binds both directions once the server echoes it,
// and record_size_limit (RFC 8449), whose value is in bytes: each side states
// the largest record it is willing to receive. An [Offer] holds what a client
// asks for ([MaxFragmentCodeFor] turns a length in bytes into its code); a
// connection reports which extension the server agreed to as a [Kind].
// [Expansion] says how many bytes record protection adds with a cipher
// suite, which a device whose link holds records of a fixed size needs to
// choose what to offer. [Chunked] adapts a transport that moves only a few
// hundred bytes per call, such as a cellular modem socket driven by AT
// commands.
//
// Package tlsapp applies the RFCs' rules below its TLS stacks, in a
// record-layer guard of its own (internal, not part of this package): the
// client's guard learns what the server agreed to, keeps the client's
// records within it and refuses the server's records above it; the server's
// keeps a crypto/tls server's records within what the client asked for.
//
// Errors carry the TLS alert they map to: [RecordOverflowError],
// [RecordHeaderError] and [NegotiationError] implement Alert() and match the
// sentinels [ErrRecordOverflow], [ErrBadRecord] and [ErrNegotiation] with
// errors.Is; the guard's own errors match [ErrProtocol] or
// [ErrMissingSecret]. [AlertOf] finds the alert in any error chain.
package recordlimit
