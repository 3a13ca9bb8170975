package tlsapp

import "github.com/tlsapp/tlsapp/recordlimit"

// RecordState reports what a connection offered, what the server agreed to,
// the limits in force and the records seen. Sizes of records are the length
// field of the record header (the ciphertext length for protected records);
// byte counts include record headers.
type RecordState struct {
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

	LargestSent, LargestReceived int
	RecordsSent, RecordsReceived int64
	BytesSent, BytesReceived     int64

	// HandshakeBytesSent and HandshakeBytesReceived are the bytes on the
	// wire (record headers included) up to the end of the handshake.
	HandshakeBytesSent, HandshakeBytesReceived int64

	// CloseNotify says that the server ended the connection with a
	// close_notify alert (RFC 8446 §6.1), seen by a Read that returned
	// io.EOF. A connection that ended with io.EOF and no close_notify was
	// closed by the transport alone, at a record boundary.
	CloseNotify bool

	// Anchors are the trust anchors that verified the server's chain (none
	// when verification is off, or for a resumed session whose full
	// handshake happened in another process).
	Anchors []Anchor
}
