// Package pkcs11 is a credstore backend whose private keys live on a
// PKCS#11 token (a secure element, an HSM, a smart card, or SoftHSM2 for
// tests) and never leave it: the token signs, and Go sees a crypto.Signer.
//
// A [Store] keeps the private key of tag N on the token as a key pair whose
// CKA_ID is N as four big-endian bytes (tag 1 is 00000001), and keeps every
// other credential — CA certificates, the client certificate chain, session
// state, none of them secret from the token's point of view — in another
// credstore.Store it is given, such as a directory store. Keys get onto the
// token by [Store.GenerateKey], or by the token's own tools, for example
//
//	softhsm2-util --import key.pem --token device --pin 1234 --id 00000001 --label tag1
//
// Put of a private key is not supported (it returns an error wrapping
// errors.ErrUnsupported): importing key material into the token from Go
// would mean holding it in memory, which is what the token avoids. Get of a
// private key on the token returns [ErrNotExportable]. List reports a key
// by the SHA-256 digest and size of its public key (PKIX DER).
//
// The package is separate from credstore so that programs that do not use
// it do not link a PKCS#11 library, or need cgo.
package pkcs11
