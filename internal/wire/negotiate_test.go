package wire

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/tlsapp/tlsapp/recordlimit"
)

func TestLimits(t *testing.T) {
	const (
		gcm12    = 0xc02b
		chacha12 = 0xcca8
		aes13    = 0x1301
	)
	tests := []struct {
		name  string
		offer recordlimit.Offer
		agr   Agreement
		want  Limits
	}{
		{"none 1.3", recordlimit.Offer{RecordSizeLimit: 512}, Agreement{Version: VersionTLS13, Suite: aes13}, Limits{16384, 16640, 16384}},
		{"none 1.2", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}, Agreement{Version: VersionTLS12, Suite: gcm12}, Limits{16384, 18432, 16384}},
		{"mfl 512 1.2 gcm", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}, Agreement{Version: VersionTLS12, Suite: gcm12, Kind: recordlimit.KindMFL, MaxFragmentLength: recordlimit.MFL512}, Limits{512, 536, 512}},
		{"mfl 512 1.2 chacha", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}, Agreement{Version: VersionTLS12, Suite: chacha12, Kind: recordlimit.KindMFL, MaxFragmentLength: recordlimit.MFL512}, Limits{512, 528, 512}},
		{"mfl 512 1.3", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: recordlimit.KindMFL, MaxFragmentLength: recordlimit.MFL512}, Limits{512, 529, 512}},
		{"mfl 4096 1.3", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL4096}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: recordlimit.KindMFL, MaxFragmentLength: recordlimit.MFL4096}, Limits{4096, 4113, 4096}},
		// RSL: the server's value bounds sending, ours bounds receiving; in
		// TLS 1.3 both count the content-type byte.
		{"rsl 1.3", recordlimit.Offer{RecordSizeLimit: 2048}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 512}, Limits{511, 2064, 16384}},
		{"rsl 64 1.3", recordlimit.Offer{RecordSizeLimit: 64}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 64}, Limits{63, 80, 16384}},
		{"rsl 16385 1.3", recordlimit.Offer{RecordSizeLimit: 16385}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 16385}, Limits{16384, 16401, 16384}},
		{"rsl 1.2 gcm", recordlimit.Offer{RecordSizeLimit: 2048}, Agreement{Version: VersionTLS12, Suite: gcm12, Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 1024}, Limits{1024, 2072, 16384}},
		{"rsl 16386 agreed, 1.3 (clamped)", recordlimit.Offer{RecordSizeLimit: 16386}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 16386}, Limits{16384, 16401, 16384}},
		{"rsl 16384 1.3", recordlimit.Offer{RecordSizeLimit: 16384}, Agreement{Version: VersionTLS13, Suite: aes13, Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 16384}, Limits{16383, 16400, 16384}},
		{"rsl 16385 agreed, 1.2 (clamped)", recordlimit.Offer{RecordSizeLimit: 16384}, Agreement{Version: VersionTLS12, Suite: gcm12, Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 16385}, Limits{16384, 16408, 16384}},
		{"rsl 16383 1.2", recordlimit.Offer{RecordSizeLimit: 16383}, Agreement{Version: VersionTLS12, Suite: gcm12, Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 16383}, Limits{16383, 16407, 16384}},
		{"none, later version", recordlimit.Offer{}, Agreement{Version: VersionTLS13 + 1, Suite: aes13}, Limits{16384, 16640, 16384}},
		{"rsl 16385 offered, 1.2", recordlimit.Offer{RecordSizeLimit: 16385}, Agreement{Version: VersionTLS12, Suite: chacha12, Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 16384}, Limits{16384, 16400, 16384}},
	}
	for _, tt := range tests {
		if got := tt.agr.Limits(tt.offer); got != tt.want {
			t.Errorf("%s: Limits = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestNegotiate checks each rule of RFC 6066 and RFC 8449 on both sides
// of its boundary: the version (TLS 1.2 against 1.3 ServerHellos), the
// record_size_limit range (63/64, and each version's maximum and one above),
// and the agreement each accepted answer gives.
func TestNegotiate(t *testing.T) {
	mfl := func(c byte) Extension { return Extension{recordlimit.ExtMaxFragmentLength, []byte{c}} }
	rsl := func(v int) Extension { return Extension{recordlimit.ExtRecordSizeLimit, []byte{byte(v >> 8), byte(v)}} }
	both := recordlimit.Offer{MaxFragmentLength: recordlimit.MFL1024, RecordSizeLimit: 1024}
	const (
		mflExt = recordlimit.ExtMaxFragmentLength
		rslExt = recordlimit.ExtRecordSizeLimit
	)
	tests := []struct {
		name    string
		offer   recordlimit.Offer
		version uint16
		inSH    bool
		exts    []Extension
		want    Agreement // Version and Suite are filled in
		alert   recordlimit.Alert
		ext     uint16 // NegotiationError.Extension
	}{
		{"no answer, 1.3", both, VersionTLS13, false, nil, Agreement{}, 0, 0},
		{"no answer, 1.2", both, VersionTLS12, true, nil, Agreement{}, 0, 0},
		{"no answer, 1.3 ServerHello", both, VersionTLS13, true, []Extension{{43, []byte{3, 4}}}, Agreement{}, 0, 0},
		{"mfl echo, 1.2", both, VersionTLS12, true, []Extension{mfl(2)}, Agreement{Kind: recordlimit.KindMFL, MaxFragmentLength: recordlimit.MFL1024}, 0, 0},
		{"mfl echo, 1.3", both, VersionTLS13, false, []Extension{mfl(2)}, Agreement{Kind: recordlimit.KindMFL, MaxFragmentLength: recordlimit.MFL1024}, 0, 0},
		{"mfl in 1.3 ServerHello", both, VersionTLS13, true, []Extension{mfl(2)}, Agreement{}, recordlimit.AlertIllegalParameter, mflExt},
		{"mfl differs", both, VersionTLS12, true, []Extension{mfl(1)}, Agreement{}, recordlimit.AlertIllegalParameter, mflExt},
		{"mfl code 5", both, VersionTLS12, true, []Extension{mfl(5)}, Agreement{}, recordlimit.AlertIllegalParameter, mflExt},
		{"mfl 2 bytes", both, VersionTLS12, true, []Extension{{mflExt, []byte{2, 0}}}, Agreement{}, recordlimit.AlertDecodeError, mflExt},
		{"mfl unsolicited", recordlimit.Offer{RecordSizeLimit: 64}, VersionTLS12, true, []Extension{mfl(1)}, Agreement{}, recordlimit.AlertUnsupportedExtension, mflExt},
		{"mfl unsolicited, 1.3 ServerHello", recordlimit.Offer{RecordSizeLimit: 64}, VersionTLS13, true, []Extension{mfl(1)}, Agreement{}, recordlimit.AlertUnsupportedExtension, mflExt},
		{"rsl 16385, 1.3", both, VersionTLS13, false, []Extension{rsl(16385)}, Agreement{Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 16385}, 0, 0},
		{"rsl 16386, 1.3", both, VersionTLS13, false, []Extension{rsl(16386)}, Agreement{}, recordlimit.AlertIllegalParameter, rslExt},
		{"rsl 16384, 1.2", both, VersionTLS12, true, []Extension{rsl(16384)}, Agreement{Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 16384}, 0, 0},
		{"rsl 16385, 1.2", both, VersionTLS12, true, []Extension{rsl(16385)}, Agreement{}, recordlimit.AlertIllegalParameter, rslExt},
		{"rsl 64", both, VersionTLS13, false, []Extension{rsl(64)}, Agreement{Kind: recordlimit.KindRSL, PeerRecordSizeLimit: 64}, 0, 0},
		{"rsl 63", both, VersionTLS13, false, []Extension{rsl(63)}, Agreement{}, recordlimit.AlertIllegalParameter, rslExt},
		{"rsl 3 bytes", both, VersionTLS13, false, []Extension{{rslExt, []byte{0, 1, 0}}}, Agreement{}, recordlimit.AlertDecodeError, rslExt},
		{"rsl in 1.3 ServerHello", both, VersionTLS13, true, []Extension{rsl(64)}, Agreement{}, recordlimit.AlertIllegalParameter, rslExt},
		{"rsl unsolicited", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}, VersionTLS13, false, []Extension{rsl(64)}, Agreement{}, recordlimit.AlertUnsupportedExtension, rslExt},
		{"rsl unsolicited, 1.2", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}, VersionTLS12, true, []Extension{rsl(64)}, Agreement{}, recordlimit.AlertUnsupportedExtension, rslExt},
		{"both", both, VersionTLS13, false, []Extension{rsl(512), mfl(2)}, Agreement{}, recordlimit.AlertIllegalParameter, 0},
		{"both, 1.2", both, VersionTLS12, true, []Extension{mfl(2), rsl(512)}, Agreement{}, recordlimit.AlertIllegalParameter, 0},
	}
	for _, tt := range tests {
		a, err := negotiateIn(tt.offer, tt.version, 0x1301, tt.inSH, tt.exts)
		want := tt.want
		want.Version, want.Suite = tt.version, 0x1301
		if tt.alert != 0 {
			var ne *recordlimit.NegotiationError
			if !errors.As(err, &ne) || ne.Alert() != tt.alert || ne.Extension != tt.ext {
				t.Errorf("%s: error %#v, want alert %v about extension %d", tt.name, err, tt.alert, tt.ext)
			}
		} else if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if a != want {
			t.Errorf("%s: agreement %+v, want %+v", tt.name, a, want)
		}
	}
}

// TestLimitsCBC checks the TLS 1.2 AES-CBC receive bound against the suite's
// own name: the fragment, an explicit IV of 16, the MAC its name gives, and
// up to 256 bytes of padding (RFC 5246, Section 6.2.3.2).
func TestLimitsCBC(t *testing.T) {
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
		a := Agreement{Version: VersionTLS12, Suite: s, Kind: recordlimit.KindMFL, MaxFragmentLength: recordlimit.MFL2048}
		if got, want := a.Limits(recordlimit.Offer{MaxFragmentLength: recordlimit.MFL2048}).Receive, 2048+16+mac+256; got != want {
			t.Errorf("%s: MFL 2048 receive bound %d, want %d", name, got, want)
		}
	}
}
