// Package credstore keeps a device's TLS credentials the way a cellular
// modem does: each under a numeric security tag (like an nRF91 sec_tag) and a
// kind — CA certificates, a client certificate chain, its private key, or
// session state — so that a connection can be given a list of tags.
//
// A Store is a small, context-aware interface with an in-memory backend
// (NewMemory) and a directory backend (OpenDir: one folder per tag, PEM
// files written atomically, private keys readable only by their owner).
// Import validates certificates and keys before anything is written, so bad
// input leaves the store as it was. A Verifier checks a server's chain
// against every CA of the selected tags at once — never "the first CA wins",
// the bug that made a device pick Amazon Root CA 1 for a server anchored at
// DigiCert Global Root G2 — and reports which anchor, under which tag,
// verified it; when none does, its error lists every anchor tried and why.
package credstore
