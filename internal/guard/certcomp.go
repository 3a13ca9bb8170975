package guard

// CertCompression returns the RFC 8879 algorithm the server compressed its
// TLS 1.3 Certificate message with (1 zlib, 2 brotli, 3 zstd), as read from
// the decrypted handshake, or 0 when the server sent its chain uncompressed,
// the version is TLS 1.2, or the handshake has not reached the Certificate.
func (c *Conn) CertCompression() uint16 { return uint16(c.certAlg.Load()) }
