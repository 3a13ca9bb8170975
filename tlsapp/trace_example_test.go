package tlsapp_test

import (
	"fmt"

	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// Config.Trace receives one TraceRecord per record on the wire; its String
// form is the support trace's line.
func ExampleTraceRecord() {
	cfg := &tlsapp.Config{ServerName: "fw.example.com", Trace: func(r tlsapp.TraceRecord) { fmt.Println(r) }}
	cfg.Trace(tlsapp.TraceRecord{Direction: tlsapp.Sent, Epoch: tlsapp.EpochPlaintext, Type: recordlimit.TypeHandshake, Len: 283})
	cfg.Trace(tlsapp.TraceRecord{Direction: tlsapp.Received, Epoch: tlsapp.EpochApplication, Type: recordlimit.TypeApplicationData, Len: 2065})
	// Output:
	// sent plaintext handshake 283
	// received application application_data 2065
}
