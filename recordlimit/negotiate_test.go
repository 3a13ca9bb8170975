package recordlimit

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
)

func TestLimits(t *testing.T) {
	const (
		gcm12    = 0xc02b
		chacha12 = 0xcca8
		aes13    = 0x1301
	)
	tests := []struct {
		name  string
		offer Offer
		agr   Agreement
		want  Limits
	}{
		{"none 1.3", Offer{RecordSizeLimit: 512}, Agreement{Version: VersionTLS13, Suite: aes13}, Limits{16384, 16640, 16384}},
		{"none 1.2", Offer{MaxFragmentLength: MFL512}, Agreement{Version: VersionTLS12, Suite: gcm12}, Limits{16384, 18432, 16384}},
		{"mfl 512 1.2 gcm", Offer{MaxFragmentLength: MFL512}, Agreement{Version: VersionTLS12, Suite: gcm12, Kind: KindMFL, MaxFragmentLength: MFL512}, Limits{512, 536, 512}},
		{"mfl 512 1.2 chacha", Offer{MaxFragmentLength: MFL512}, Agreement{Version: VersionTLS12, Suite: chacha12, Kind: KindMFL, MaxFragmentLength: MFL512}, Limits{512, 528, 512}},
		{"mfl 512 1.3", Offer{MaxFragmentLength: MFL512}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: KindMFL, MaxFragmentLength: MFL512}, Limits{512, 529, 512}},
		{"mfl 4096 1.3", Offer{MaxFragmentLength: MFL4096}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: KindMFL, MaxFragmentLength: MFL4096}, Limits{4096, 4113, 4096}},
		// RSL: the server's value bounds sending, ours bounds receiving; in
		// TLS 1.3 both count the content-type byte.
		{"rsl 1.3", Offer{RecordSizeLimit: 2048}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: KindRSL, PeerRecordSizeLimit: 512}, Limits{511, 2064, 16384}},
		{"rsl 64 1.3", Offer{RecordSizeLimit: 64}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: KindRSL, PeerRecordSizeLimit: 64}, Limits{63, 80, 16384}},
		{"rsl 16385 1.3", Offer{RecordSizeLimit: 16385}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: KindRSL, PeerRecordSizeLimit: 16385}, Limits{16384, 16401, 16384}},
		{"rsl 1.2 gcm", Offer{RecordSizeLimit: 2048}, Agreement{Version: VersionTLS12, Suite: gcm12, Kind: KindRSL, PeerRecordSizeLimit: 1024}, Limits{1024, 2072, 16384}},
		{"rsl 16385 offered, 1.2", Offer{RecordSizeLimit: 16385}, Agreement{Version: VersionTLS12, Suite: chacha12, Kind: KindRSL, PeerRecordSizeLimit: 16384}, Limits{16384, 16400, 16384}},
	}
	for _, tt := range tests {
		if got := tt.agr.Limits(tt.offer); got != tt.want {
			t.Errorf("%s: Limits = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	mfl := func(c byte) Extension { return Extension{ExtMaxFragmentLength, []byte{c}} }
	rsl := func(v int) Extension { return Extension{ExtRecordSizeLimit, []byte{byte(v >> 8), byte(v)}} }
	both := Offer{MaxFragmentLength: MFL1024, RecordSizeLimit: 1024}
	tests := []struct {
		name    string
		offer   Offer
		version uint16
		inSH    bool
		exts    []Extension
		kind    Kind
		alert   Alert
	}{
		{"no answer", both, VersionTLS13, false, nil, KindNone, 0},
		{"mfl echo", both, VersionTLS12, true, []Extension{mfl(2)}, KindMFL, 0},
		{"rsl answer", both, VersionTLS13, false, []Extension{rsl(16385)}, KindRSL, 0},
		{"rsl 16385 in 1.2", both, VersionTLS12, true, []Extension{rsl(16385)}, 0, AlertIllegalParameter},
		{"mfl differs", both, VersionTLS12, true, []Extension{mfl(1)}, 0, AlertIllegalParameter},
		{"mfl unsolicited", Offer{RecordSizeLimit: 64}, VersionTLS12, true, []Extension{mfl(1)}, 0, AlertUnsupportedExtension},
		{"rsl unsolicited", Offer{MaxFragmentLength: MFL512}, VersionTLS13, false, []Extension{rsl(64)}, 0, AlertUnsupportedExtension},
		{"rsl in 1.3 ServerHello", both, VersionTLS13, true, []Extension{rsl(64)}, 0, AlertIllegalParameter},
		{"both", both, VersionTLS13, false, []Extension{rsl(512), mfl(2)}, 0, AlertIllegalParameter},
		{"rsl 63", both, VersionTLS13, false, []Extension{rsl(63)}, 0, AlertIllegalParameter},
		{"rsl 3 bytes", both, VersionTLS13, false, []Extension{{ExtRecordSizeLimit, []byte{0, 1, 0}}}, 0, AlertDecodeError},
	}
	for _, tt := range tests {
		a, err := Negotiate(tt.offer, tt.version, 0x1301, tt.inSH, tt.exts)
		if tt.alert != 0 {
			var ne *NegotiationError
			if !errors.As(err, &ne) || ne.Alert() != tt.alert {
				t.Errorf("%s: error %v, want alert %v", tt.name, err, tt.alert)
			}
			continue
		}
		if err != nil || a.Kind != tt.kind {
			t.Errorf("%s: kind %v, err %v; want %v", tt.name, a.Kind, err, tt.kind)
		}
	}
}

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
// bytes of padding (RFC 5246, Section 6.2.3.2); and that the MFL bound
// follows from it.
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
		if got, want := Expansion(VersionTLS12, s), 16+mac+256; got != want {
			t.Errorf("%s: expansion %d, want %d", name, got, want)
		}
		a := Agreement{Version: VersionTLS12, Suite: s, Kind: KindMFL, MaxFragmentLength: MFL2048}
		if got, want := a.Limits(Offer{MaxFragmentLength: MFL2048}).Receive, 2048+16+mac+256; got != want {
			t.Errorf("%s: MFL 2048 receive bound %d, want %d", name, got, want)
		}
	}
}
