package recordlimit_test

import (
	"errors"
	"fmt"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// A client offers record_size_limit 2048; a TLS 1.3 server answers 512 in
// EncryptedExtensions. The client may then send 511 content bytes per record
// (the limit counts the inner content-type byte) and accepts protected
// records of up to 2048+16 bytes.
func ExampleNegotiate() {
	offer := recordlimit.Offer{RecordSizeLimit: 2048}
	answer := []recordlimit.Extension{{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{0x02, 0x00}}}
	a, err := recordlimit.Negotiate(offer, recordlimit.VersionTLS13, 0x1301, false, answer)
	if err != nil {
		panic(err)
	}
	l := a.Limits(offer)
	fmt.Println(a.Kind, "send", l.Send, "receive", l.Receive)
	// Output: record_size_limit send 511 receive 2064
}

// A server that echoes a different max_fragment_length breaks RFC 6066: the
// client must end the handshake with illegal_parameter.
func ExampleNegotiate_mismatch() {
	offer := recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}
	answer := []recordlimit.Extension{{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{4}}}
	_, err := recordlimit.Negotiate(offer, recordlimit.VersionTLS12, 0xc02b, true, answer)
	alert, _ := recordlimit.AlertOf(err)
	fmt.Println(errors.Is(err, recordlimit.ErrNegotiation), alert)
	// Output: true illegal_parameter
}
