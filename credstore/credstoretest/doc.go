// Package credstoretest checks that a credstore.Store behaves as the
// interface promises, the way testing/fstest checks an fs.FS. A backend's
// tests call [Run] with a function returning a fresh, empty store; the suite
// exercises Get, Put, Delete and List, ErrNotFound, overwriting with shorter
// and longer values, that List never shows a value's bytes, that a cancelled
// or expired context changes nothing, and many goroutines at once (run it
// with -race).
//
// A backend that cannot hold some kind of credential — a PKCS#11 token keeps
// private keys itself — returns an error wrapping errors.ErrUnsupported from
// Put for it; the suite notes that and checks the other kinds.
package credstoretest
