// Package wiretrace decodes the bytes a TLS client connection exchanges on
// its transport into a trace a support engineer can read: for every record,
// the time since the dial, its direction, epoch, content type and length;
// inside it the handshake messages by name with their lengths (parts of a
// message split across records say which bytes they carry), the
// extensions of the hellos, EncryptedExtensions and tickets by name with
// the values that matter for small-record devices (max_fragment_length,
// record_size_limit, versions, groups, ALPN, certificate compression), and
// alerts by level and name.
//
// It is an independent witness: it reads the bytes below the TLS stack and
// the record guard (a [Tracer] fed by [Wrap] or [Dial]), with its own
// record framing, name tables and message parsers (cryptobyte), and does
// not ask the stack what it believes. With the session secrets the stack
// logs (a [Keys] as tlsapp.Config.KeyLogWriter) it decrypts the protected
// records itself: TLS 1.3's encrypted handshake (EncryptedExtensions,
// Certificate, Finished), tickets, KeyUpdates and alerts, and TLS 1.2's
// Finished and alerts; without them, protected records are shown by type
// and length only. A protected record that arrives before its keys have
// been logged waits (at most 64 KiB per direction) and is reported when
// they come, with the time it arrived.
//
// Memory is bounded whatever the peer sends: one record (at most
// 2^14 + 2048 bytes; a longer length field is reported and skipped) and one
// handshake message (at most 64 KiB decoded; a longer one is named with its
// length) per direction. Bytes that are not TLS end the decoding of their
// direction with a note. Nothing in it panics on any input (FuzzTracer).
//
// Events print as text ([Event.AppendText]) or as one JSON object per line
// ([Event.AppendJSON]).
package wiretrace
