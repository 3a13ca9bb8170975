package recordlimit_test

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// A client that wants 2048-byte fragments offers the max_fragment_length
// code for 2048 bytes; a server that echoes it binds both directions.
func ExampleMaxFragmentCodeFor() {
	code, err := recordlimit.MaxFragmentCodeFor(2048)
	if err != nil {
		panic(err)
	}
	fmt.Println(uint8(code), code.Bytes())
	_, err = recordlimit.MaxFragmentCodeFor(2303)
	fmt.Println(err)
	// Output:
	// 3 2048
	// recordlimit: max_fragment_length must be 512, 1024, 2048 or 4096, not 2303
}

// A modem that holds records of at most 2303 bytes on the wire can take, in
// TLS 1.3 with AES-128-GCM, 2303 - 5 (header) - 16 (tag) = 2282 bytes of
// inner plaintext: the record_size_limit to offer, which counts the inner
// content-type byte.
func ExampleExpansion() {
	const wire = 2303
	exp := recordlimit.Expansion(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256)
	fmt.Println(exp, wire-5-exp)
	// Output: 16 2282
}

// An error from a connection whose server broke RFC 6066 matches
// ErrNegotiation and carries the alert the client sent.
func ExampleAlertOf() {
	err := fmt.Errorf("handshake: %w", &recordlimit.NegotiationError{
		Extension: recordlimit.ExtMaxFragmentLength,
		Desc:      recordlimit.AlertIllegalParameter,
		Reason:    "server echoed max_fragment_length 4096, offered 512",
	})
	alert, _ := recordlimit.AlertOf(err)
	fmt.Println(errors.Is(err, recordlimit.ErrNegotiation), alert)
	// Output: true illegal_parameter
}
