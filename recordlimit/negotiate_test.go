package recordlimit

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestOfferValidate(t *testing.T) {
	for _, o := range []Offer{{}, {MaxFragmentLength: MFL4096}, {RecordSizeLimit: 64}, {RecordSizeLimit: 16385}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for _, o := range []Offer{{MaxFragmentLength: 5}, {RecordSizeLimit: 63}, {RecordSizeLimit: 16386}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
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
	}
}
