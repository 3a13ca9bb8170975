package tlsapp

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/trust"
)

// RecordState is a snapshot of what a connection offered, what the server
// agreed to, the limits in force and the records seen, as Conn.RecordState
// returns it. Sizes of records are the length field of the record header
// (the ciphertext length for protected records); byte counts include record
// headers.
//
// The fields before LargestSent are the handshake's results: they are fixed
// once Handshake has returned and the same in every later snapshot. The
// fields from LargestSent on are live counters: they grow as the connection
// is used, and CloseNotify turns true at its end.
type RecordState struct {
	// Fixed by the handshake.

	Version     uint16 // tls.VersionTLS12 or tls.VersionTLS13; 0 before the ServerHello
	CipherSuite uint16
	Resumed     bool

	// OfferedMaxFragmentLength and OfferedRecordSizeLimit are what the
	// ClientHello carried (0: not offered).
	OfferedMaxFragmentLength int
	OfferedRecordSizeLimit   int

	// Agreed says which extension the server answered, if any.
	Agreed recordlimit.Kind
	// AgreedMaxFragmentLength is the echoed fragment length (KindMFL).
	AgreedMaxFragmentLength int
	// PeerRecordSizeLimit is the server's record_size_limit (KindRSL).
	PeerRecordSizeLimit int

	// CertCompression is the RFC 8879 algorithm the server compressed its
	// TLS 1.3 Certificate message with (1 zlib, 2 brotli, 3 zstd), read
	// from the decrypted handshake; 0 when it sent the chain uncompressed.
	CertCompression uint16

	// SendLimit is the most content bytes the client puts in one
	// application data record: the limit the server is owed, or
	// Config.SendRecordLimit when that is lower.
	SendLimit int
	// ReceiveLimit is the longest protected record body the client accepts.
	ReceiveLimit int

	// HandshakeBytesSent and HandshakeBytesReceived are the bytes on the
	// wire (record headers included) up to the end of the handshake.
	HandshakeBytesSent, HandshakeBytesReceived int64

	// Anchors are the trust anchors that verified the server's chain (none
	// when verification is off, or for a resumed session whose full
	// handshake happened in another process).
	Anchors []trust.Anchor

	// Live: they move while the connection is used.

	LargestSent, LargestReceived int
	RecordsSent, RecordsReceived int64
	BytesSent, BytesReceived     int64

	// CloseNotify says that the server ended the connection with a
	// close_notify alert (RFC 8446 §6.1), seen by a Read that returned
	// io.EOF. A connection that ended with io.EOF and no close_notify was
	// closed by the transport alone, at a record boundary.
	CloseNotify bool
}

// String describes the state on one line, as %v prints it: version and
// suite, the offer and the answer, the limits, and the records each way.
func (s RecordState) String() string {
	var b strings.Builder
	if s.Version == 0 {
		b.WriteString("no handshake")
	} else {
		fmt.Fprintf(&b, "%s %s", tls.VersionName(s.Version), tls.CipherSuiteName(s.CipherSuite))
		if s.Resumed {
			b.WriteString(" resumed")
		}
	}
	var offered []string
	if s.OfferedMaxFragmentLength > 0 {
		offered = append(offered, fmt.Sprintf("max_fragment_length %d", s.OfferedMaxFragmentLength))
	}
	if s.OfferedRecordSizeLimit > 0 {
		offered = append(offered, fmt.Sprintf("record_size_limit %d", s.OfferedRecordSizeLimit))
	}
	if len(offered) == 0 {
		offered = append(offered, "nothing")
	}
	fmt.Fprintf(&b, "; offered %s; agreed %s", strings.Join(offered, " and "), s.Agreed)
	switch s.Agreed {
	case recordlimit.KindMFL:
		fmt.Fprintf(&b, " %d", s.AgreedMaxFragmentLength)
	case recordlimit.KindRSL:
		fmt.Fprintf(&b, " %d", s.PeerRecordSizeLimit)
	}
	fmt.Fprintf(&b, "; limits send %d receive %d", s.SendLimit, s.ReceiveLimit)
	fmt.Fprintf(&b, "; sent %d records (largest %d B, %d B), received %d records (largest %d B, %d B)",
		s.RecordsSent, s.LargestSent, s.BytesSent, s.RecordsReceived, s.LargestReceived, s.BytesReceived)
	if s.CloseNotify {
		b.WriteString("; close_notify received")
	}
	return b.String()
}
