package guard

import "github.com/tlsapp/tlsapp/recordlimit"

// appendAlertRecord appends a plaintext fatal alert record.
func appendAlertRecord(b []byte, a recordlimit.Alert) []byte {
	return append(b, byte(recordlimit.TypeAlert), 3, 3, 0, 2, 2, byte(a))
}

// changeCipherSpecRecord is a ChangeCipherSpec record, as TLS 1.3 clients
// send it for middlebox compatibility.
var changeCipherSpecRecord = [...]byte{byte(recordlimit.TypeChangeCipherSpec), 3, 3, 0, 1, 1}
