package probe_test

import (
	"crypto/tls"
	"fmt"

	"github.com/tlsapp/tlsapp/probe"
)

// A server that caps its records at 2048 bytes without answering either
// extension, seen over 256 KiB in each version: TLS 1.2 AES-GCM records
// of 2072 bytes and TLS 1.3 ones of 2065 both carry 2048 bytes of content.
func ExampleReport_Verdict() {
	conn := func(v, suite uint16, largest int) probe.Connection {
		return probe.Connection{VersionCode: v, SuiteCode: suite, Result: probe.ResultOK,
			LargestReceived: largest, ResponseBytes: 256 << 10}
	}
	r := &probe.Report{Versions: []probe.Connection{
		conn(tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 2072),
		conn(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, 2065),
	}}
	fmt.Println(r.Verdict(2048).Kind)
	fmt.Println(r.Verdict(1024).Kind)
	// Output:
	// works (capped without answering)
	// fails
}
