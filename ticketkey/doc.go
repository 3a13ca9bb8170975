// Package ticketkey keeps the session-ticket keys that a fleet of TLS
// servers shares, so that a session one server made resumes on another: a
// [Ring] of keys read from a file, newest first, where the first key seals
// new tickets and every key opens them.
//
// # The key file
//
// The file is text: one key per line, each the standard base64 encoding of
// 48 random bytes, the newest first. Blank lines and lines starting with #
// are ignored. Of a key's 48 bytes, the first 16 are its name, which every
// ticket carries in the clear so that the right key is found, and the other
// 32 are an XChaCha20-Poly1305 key. One key is one line of
//
//	openssl rand -base64 48
//
// (64 characters: 48 bytes is the largest key that openssl prints on one
// line). A text file of several keys, rather than nginx's one binary key per
// file, makes a rotation one edit of one file, replaced by a rename and
// copied to every server as it is; the order of its lines is the order of
// the keys. The line format is HAProxy's for 48-byte keys, but the order is
// not: HAProxy seals with the second-last key, this package with the first.
//
// # Rotation
//
// To rotate, put a new key on top and drop the oldest, keeping two or three
// (new, current, previous):
//
//	(umask 077; { openssl rand -base64 48; head -n 2 ticket.keys; } > ticket.keys.new) && mv ticket.keys.new ticket.keys
//
// then copy the file to every server of the fleet and have each reload it
// ([Ring.Reload], on SIGHUP, or [Ring.Watch], which notices the change). A
// ticket sealed under a key still in the file keeps opening; one sealed
// under a dropped key does not ([ErrUnknownKey]), and its session costs a
// full handshake, not an error. Until every server has the new file, a
// ticket sealed by an updated server under the new key is unknown to the
// others: copy the file everywhere at once. A stolen key opens every ticket
// sealed under it, and with it the secrets of those sessions: rotate daily
// or so. crypto/tls refuses to resume a session older than 7 days whatever
// the keys.
//
// # Loading
//
// [Load] refuses, with typed errors, a missing file, one that is not a
// regular file ([ErrNotRegular]), one larger than [MaxFileSize]
// ([ErrFileTooLarge], reading no more than that), one that users other than
// its owner may read or write (a [*PermissionError]: chmod 600, as ssh
// wants of a private key and package credstore of a secret), and a line
// that is not base64 ([ErrEncoding]) or not 48 bytes ([ErrKeyLength]), two
// keys of one name ([ErrDuplicateName]) or no key at all ([ErrNoKeys]);
// line errors are a [*FileError] saying the line, never its content. A
// symbolic link is followed and its target checked; the folder holding the
// file is not checked: keep it in one that only its owner or root can
// write.
// [Ring.Reload] refuses the same files the same way and keeps the keys it
// had: a bad file never leaves a server without keys.
//
// # Tickets
//
// A ticket is the key's 16-byte name, a random 24-byte nonce, and the
// session state sealed with XChaCha20-Poly1305, the name authenticated as
// associated data: [Overhead] (56) bytes more than the state. Random
// 192-bit nonces let any number of servers seal any number of tickets under
// one key without coordinating (AES-GCM's 96-bit ones would bound a key to
// 2^32 tickets across the fleet). [Ring.Seal] makes no ticket longer than
// [MaxTicketLen] and [Ring.Open] reads none, before any decryption.
//
// # Secrets
//
// The bytes read from the file and the decoded keys are zeroed once the
// ciphers are made; the ciphers' own copies of the keys cannot be reached
// and are left to the garbage collector. Nothing in this package prints a
// key; a key's name is not secret (every ticket shows it), and
// [Ring.Names] reports names so that an operator can check that servers
// hold the same keys.
package ticketkey
