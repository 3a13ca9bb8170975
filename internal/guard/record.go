package guard

import (
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// AppendRecords appends body as records of type typ and version vers, each
// carrying at most max bytes. An empty body yields one empty record.
func AppendRecords(b []byte, typ recordlimit.ContentType, vers uint16, body []byte, max int) []byte {
	if max <= 0 {
		max = recordlimit.MaxPlaintext
	}
	for {
		n := min(len(body), max)
		b = wire.Header{Type: typ, Version: vers, Len: n}.Append(b)
		b = append(b, body[:n]...)
		body = body[n:]
		if len(body) == 0 {
			return b
		}
	}
}

// appendAlertRecord appends a plaintext fatal alert record.
func appendAlertRecord(b []byte, a recordlimit.Alert) []byte {
	return append(b, byte(recordlimit.TypeAlert), 3, 3, 0, 2, 2, byte(a))
}

// changeCipherSpecRecord is a ChangeCipherSpec record, as TLS 1.3 clients
// send it for middlebox compatibility.
var changeCipherSpecRecord = [...]byte{byte(recordlimit.TypeChangeCipherSpec), 3, 3, 0, 1, 1}
