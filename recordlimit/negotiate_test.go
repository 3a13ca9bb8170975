package recordlimit

import (
	"crypto/tls"
	"strings"
	"testing"
)

// TestOfferValidate checks both sides of every bound an Offer has: the four
// RFC 6066 codes, and RFC 8449's 64..2^14+1.
func TestOfferValidate(t *testing.T) {
	tests := []struct {
		offer Offer
		ok    bool
	}{
		{Offer{}, true},
		{Offer{MaxFragmentLength: MFL512}, true},
		{Offer{MaxFragmentLength: MFL4096}, true},
		{Offer{MaxFragmentLength: 5}, false},
		{Offer{MaxFragmentLength: 255}, false},
		{Offer{RecordSizeLimit: 64}, true},
		{Offer{RecordSizeLimit: 63}, false},
		{Offer{RecordSizeLimit: 1}, false},
		{Offer{RecordSizeLimit: -1}, false},
		{Offer{RecordSizeLimit: 16385}, true},
		{Offer{RecordSizeLimit: 16386}, false},
		{Offer{MaxFragmentLength: MFL2048, RecordSizeLimit: 2048}, true},
		{Offer{MaxFragmentLength: 5, RecordSizeLimit: 2048}, false},
		{Offer{MaxFragmentLength: MFL2048, RecordSizeLimit: 16386}, false},
	}
	for _, tt := range tests {
		err := tt.offer.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%+v: Validate() = %v, want ok %v", tt.offer, err, tt.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "recordlimit: ") {
			t.Errorf("%+v: error %q lacks the package prefix", tt.offer, err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindNone: "none", KindMFL: "max_fragment_length", KindRSL: "record_size_limit", 3: "none"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

// TestExpansion checks each group of suites, in the version it belongs to
// and in the other (where the protocol's allowance applies), against the
// record layouts: RFC 8446, Section 5.2 (TLS 1.3 AEAD: the 16-byte tag;
// up to 256 bytes for an unknown suite), RFC 5288 (TLS 1.2 AES-GCM: 8-byte
// explicit nonce and tag), RFC 7905 (TLS 1.2 ChaCha20-Poly1305: the tag) and
// RFC 5246, Section 6.2.3 (up to 2048 bytes).
func TestExpansion(t *testing.T) {
	tests := []struct {
		version, suite uint16
		want           int
	}{
		{tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, 16},
		{tls.VersionTLS13, tls.TLS_AES_256_GCM_SHA384, 16},
		{tls.VersionTLS13, tls.TLS_CHACHA20_POLY1305_SHA256, 16},
		{tls.VersionTLS13, 0x1304, 256}, // TLS_AES_128_CCM_SHA256: not known
		{tls.VersionTLS13, 0x1300, 256},
		{tls.VersionTLS13, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 256},
		{tls.VersionTLS13 + 1, tls.TLS_AES_128_GCM_SHA256, 16}, // a later version is treated as 1.3
		{tls.VersionTLS12, tls.TLS_AES_128_GCM_SHA256, 2048},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 24},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 24},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 24},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 24},
		{tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, 24},
		{tls.VersionTLS12, tls.TLS_RSA_WITH_AES_256_GCM_SHA384, 24},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, 16},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 16},
		{tls.VersionTLS12, 0x00ff, 2048}, // the renegotiation SCSV: no suite
		{tls.VersionTLS11, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 24},
	}
	for _, tt := range tests {
		if got := Expansion(tt.version, tt.suite); got != tt.want {
			t.Errorf("Expansion(%#04x, %#04x) = %d, want %d", tt.version, tt.suite, got, tt.want)
		}
	}
}

// TestExpansionCBC checks the TLS 1.2 AES-CBC allowance against the suite's
// own name: an explicit IV of 16, the MAC its name gives, and up to 256
// bytes of padding (RFC 5246, Section 6.2.3.2).
func TestExpansionCBC(t *testing.T) {
	macs := map[string]int{"SHA": 20, "SHA256": 32, "SHA384": 48}
	// IANA's names for the suites crypto/tls does not implement.
	iana := map[uint16]string{
		0x003d: "TLS_RSA_WITH_AES_256_CBC_SHA256",
		0xc024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
		0xc028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	}
	for _, s := range []uint16{0xc009, 0xc00a, 0xc013, 0xc014, 0x002f, 0x0035, 0xc023, 0xc027, 0x003c, 0x003d, 0xc024, 0xc028} {
		name, ok := iana[s]
		if !ok {
			name = tls.CipherSuiteName(s)
		}
		i := strings.LastIndex(name, "_")
		mac, ok := macs[name[i+1:]]
		if !strings.Contains(name, "_CBC_") || !ok {
			t.Fatalf("%#04x (%s) is not an AES-CBC suite", s, name)
		}
		if got, want := Expansion(tls.VersionTLS12, s), 16+mac+256; got != want {
			t.Errorf("%s: expansion %d, want %d", name, got, want)
		}
		if got := Expansion(tls.VersionTLS13, s); got != 256 {
			t.Errorf("%s in TLS 1.3: expansion %d, want the protocol's 256", name, got)
		}
	}
}

// TestRecordSizeLimitBounds pins RFC 8449's numbers, which the constants
// spell as arithmetic.
func TestRecordSizeLimitBounds(t *testing.T) {
	if MinRecordSizeLimit != 64 || MaxRecordSizeLimitTLS12 != 1<<14 || MaxRecordSizeLimitTLS13 != 1<<14+1 || MaxPlaintext != 1<<14 {
		t.Errorf("bounds %d, %d, %d, %d", MinRecordSizeLimit, MaxRecordSizeLimitTLS12, MaxRecordSizeLimitTLS13, MaxPlaintext)
	}
}
