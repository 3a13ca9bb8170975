// Package guard holds the record-layer guards that tlsapp puts between its
// TLS stacks and the transport, and the TLS 1.3 record protection they use.
// It is internal: its types hold handshake secrets, count sequence numbers
// and rewrite records, which only tlsapp, the tests and the fuzz targets may
// drive. The codecs, negotiation rules and limits it applies are package
// wire's (internal/wire), their errors package recordlimit's.
//
// A guard is the net.Conn the TLS stack reads and writes. [Conn], the
// client's, follows the server's handshake message by message, across and
// within records, with bounded memory, up to its Finished: it reads the
// answer to the client's [recordlimit.Offer] from the ServerHello (and, in
// TLS 1.3, from EncryptedExtensions, which it decrypts with the handshake
// secret the stack logs through KeyLogWriter), applies the rules of RFC 6066
// and RFC 8449 (internal/wire), checks every received record against the limit in
// force, re-fragments the client's handshake records so none exceeds what the
// server is owed, and batches the records of one application write into one
// transport write. Whatever it cannot follow (a message out of place, one
// sharing a record across a key change, an unknown record type) ends the
// connection with the alert the RFCs prescribe, which reaches the server. It
// holds the handshake secrets only as long as it follows the handshake and
// wipes them on every exit. [ServerConn], the server's, reads the client's
// requests from its ClientHello ([ParseClientHello] parses one whole) in time
// linear in the hello, and keeps every record the server sends within them,
// re-encrypting the server's TLS 1.3 handshake flight in smaller records,
// and follows the client's flight up to its Finished with the same bounds
// the client's guard applies to the server's; after the flights the stack's
// records pass unchanged, without an allocation
// per record, and it holds a buffer only while it has bytes in it (read
// ahead from a client that streams, or the records of one application write
// being gathered), so that an idle connection costs the server little more
// than the stack's own state.
//
// [Epoch] protects or opens the records of one direction of one TLS 1.3 key
// epoch from a raw traffic secret, with sequence numbers counted from zero.
// Two Epochs from one secret that both seal reuse nonces: a guard seals with
// one Epoch per direction, and the records it seals replace the stack's
// (which it opens with another) rather than join them, so that no nonce
// reaches the wire twice.
// [AppendRecords] frames a body as records of a given size.
//
// Locks. Each guard has three mutexes, always taken in this order, never
// the other way:
//
//  1. in.mu, the read half's, held for the whole of each Read (the read
//     path's buffer, the follower of the peer's handshake, the read half's
//     sticky error);
//  2. out.mu (the batcher's), the write half's, held for the whole of each
//     Write and Flush (the batch, the re-encrypted handshake epoch of this
//     side, the write half's sticky error). The read half takes it only to
//     send a fatal alert of the guard's own (Conn.sendFatal,
//     ServerConn.refuse), which makes the write half fail after it;
//  3. mu, the state both halves share (agreement, limits, secrets and the
//     keys derived from them, the alert seen, the error Err reports). It is
//     a leaf: no code holds it while it takes another lock, reads or writes
//     the transport, or calls out.
//
// Close, Err, the accessors and the key log writer take mu alone, so that
// none waits for a Read blocked on the transport. The record counts and a
// few flags are atomics, read without a lock.
//
// Errors. What the guards refuse of a peer, and a secret they lack, is an
// [*Error], prefixed "guard:", carrying the alert that ends the connection
// (recordlimit.AlertOf finds it) and wrapping the sentinel it matches
// (recordlimit.ErrProtocol, ErrMissingSecret); an answer to the record-size
// extensions that RFC 6066 or RFC 8449 forbids is a
// *recordlimit.NegotiationError, and a received record above the limit a
// *recordlimit.RecordOverflowError. A broken invariant of the guard's own
// panics with "guard: internal error: ...".
package guard
