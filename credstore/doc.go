// Package credstore keeps a device's TLS credentials the way a cellular
// modem does: each under a numeric security tag (like an nRF91 sec_tag) and
// a kind — CA certificates, a client certificate chain, its private key, or
// session state — so that a connection can be given a list of tags. A
// [Ref] (tag and kind) names exactly one credential.
//
// # Stores
//
// A [Store] is a small, context-aware interface: Get, Put (an atomic
// replace), Delete and List (digests and sizes, never contents). There is an
// in-memory backend ([NewMemory]), a directory backend ([OpenDir]: one folder
// per tag, files written atomically, private keys readable only by their
// owner, and what a killed writer left undone or removed by the next open,
// lock or delete), encryption at rest for any backend ([Encrypted]: XChaCha20-Poly1305
// binding each value to its tag and kind, so a value moved elsewhere is
// refused with [ErrMoved]; [MigrateEncrypted] rewrites stores of the old
// format), and a PKCS#11
// backend in the separate package credstore/pkcs11 whose keys never leave
// the token; such stores also implement [SignerStore]. Every backend passes
// the conformance suite in credstore/credstoretest.
//
// # Importing
//
// [Import] and [ImportKeyPair] check certificates and keys (PEM or DER;
// PKCS#8, SEC1 or PKCS#1) before anything is written, so bad input leaves the
// store as it was, and the error names the file. A client certificate is
// only stored beside the key it belongs to, and the key is written first;
// imports hold the store's lock ([Locker], across processes for the
// directory store), so concurrent imports never leave a mismatched pair.
//
// # Bad files
//
// Input and stored files are capped ([MaxSize], [MaxStoredSize]: errors
// wrap [ErrTooLarge]), only regular files are read ([ReadFile]; a FIFO or
// /dev/zero is refused at once with [ErrNotRegular]), and [OpenDir] refuses
// a store folder that group or others can write ([DirPermissionError]).
//
// # Using a store for connections
//
// [Select] picks tags of a store for tlsapp.Config.Credentials: the server is
// verified against the CAs of all of them, the first tag holding a client
// certificate answers a server that asks for one, and [Selection.WithSessions]
// keeps session state under a tag. The store is read at each handshake.
//
// # Verifying servers
//
// A [Verifier] checks a server's chain against every CA of the selected tags
// at once — never "the first CA wins", the bug that made a device pick
// Amazon Root CA 1 for a server anchored at DigiCert Global Root G2 — and
// reports every anchor, with its tag, that verified it. When none does, its
// [NoAnchorError] lists every anchor tried and why it failed. Tags can be
// restricted to pinned public keys ([Verifier.WithPins]).
//
// # Resuming sessions
//
// [NewSessionCache] keeps resumption state ([trust.Session]) under a tag, so a
// device that restarts can resume instead of paying for a full handshake. It writes
// the store at most once per [SessionWriteInterval] (the first ticket at
// once, the latest at the end of the interval, none that is already
// stored), so a server sending hundreds of tickets costs two flash writes,
// not hundreds.
package credstore
