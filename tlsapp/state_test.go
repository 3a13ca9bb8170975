package tlsapp

import (
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/tlsapp/tlsapp/recordlimit"
)

func TestRecordStateString(t *testing.T) {
	for _, tc := range []struct {
		s    RecordState
		want string
	}{
		{RecordState{}, "no handshake; offered nothing; agreed none; limits send 0 receive 0; sent 0 records (largest 0 B, 0 B), received 0 records (largest 0 B, 0 B)"},
		{RecordState{
			Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256,
			OfferedMaxFragmentLength: 2048, OfferedRecordSizeLimit: 2048,
			Agreed: recordlimit.KindRSL, PeerRecordSizeLimit: 2048, SendLimit: 2047, ReceiveLimit: 2064,
			RecordsSent: 4, LargestSent: 240, BytesSent: 700, RecordsReceived: 552, LargestReceived: 2064, BytesReceived: 1100000,
			CloseNotify: true,
		}, "TLS 1.3 TLS_AES_128_GCM_SHA256; offered max_fragment_length 2048 and record_size_limit 2048; agreed record_size_limit 2048; limits send 2047 receive 2064; sent 4 records (largest 240 B, 700 B), received 552 records (largest 2064 B, 1100000 B); close_notify received"},
		{RecordState{
			Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, Resumed: true,
			OfferedMaxFragmentLength: 512, Agreed: recordlimit.KindMFL, AgreedMaxFragmentLength: 512, SendLimit: 512, ReceiveLimit: 536,
		}, "TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 resumed; offered max_fragment_length 512; agreed max_fragment_length 512; limits send 512 receive 536; sent 0 records (largest 0 B, 0 B), received 0 records (largest 0 B, 0 B)"},
	} {
		if got := fmt.Sprint(tc.s); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}
