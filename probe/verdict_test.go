package probe

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	gcm12 = tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	cha12 = tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
	gcm13 = tls.TLS_AES_128_GCM_SHA256
)

// plainConn is a plain connection that received response bytes with the
// largest record largest.
func plainConn(v, suite uint16, largest int, response int64) Connection {
	return Connection{Version: versionName(v), VersionCode: v, Suite: suiteName(suite), SuiteCode: suite,
		Result: ResultOK, LargestReceived: largest, ResponseBytes: response}
}

// caseConn is a record-size case.
func caseConn(v, suite uint16, ext string, limit int, result string, largest int, response int64) Connection {
	c := plainConn(v, suite, largest, response)
	c.Extension, c.Limit, c.Result = ext, limit, result
	c.Bound = caseBound(v, suite, ext, limit)
	return c
}

// split sets the largest protected and plaintext records of c.
func split(c Connection, protected, plaintext int) Connection {
	c.LargestProtected, c.LargestPlaintext = protected, plaintext
	c.LargestReceived = max(protected, plaintext)
	return c
}

// agreed is a case the server answered with its own value.
func agreed(c Connection) Connection {
	c.Result, c.AgreedValue = ResultAgreed, c.Limit
	return c
}

// serveDefaults is tlsapp serve with its defaults, seen by the probe: it
// answers neither extension but keeps to whatever a client offers, and
// sends 16 KiB records to a client that offers nothing.
func serveDefaults() Report {
	r := Report{Target: "127.0.0.1:8443", Path: "/fw.bin", Versions: []Connection{
		split(plainConn(tls.VersionTLS12, gcm12, 0, 256<<10), 16408, 872),
		split(plainConn(tls.VersionTLS13, gcm13, 0, 256<<10), 16401, 128),
	}}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		suite := map[uint16]uint16{tls.VersionTLS12: gcm12, tls.VersionTLS13: gcm13}[v]
		for _, ext := range []string{ExtMaxFragmentLength, ExtRecordSizeLimit} {
			for _, n := range Sizes {
				plain := map[uint16]int{tls.VersionTLS12: min(n, 872), tls.VersionTLS13: 128}[v]
				r.Cases = append(r.Cases, split(caseConn(v, suite, ext, n, ResultIgnored, 0, 256<<10), caseBound(v, suite, ext, n), plain))
			}
		}
	}
	return r
}

// mbedTLSLike is an mbedTLS 2.28-like server (TLS 1.2 only): it echoes
// max_fragment_length and keeps it, except that its Certificate goes out
// in one 839 B record, which breaks MFL 512; record_size_limit it ignores.
func mbedTLSLike() Report {
	r := Report{Target: "127.0.0.1:4433", Path: "/", Versions: []Connection{
		split(plainConn(tls.VersionTLS12, gcm12, 0, 256<<10), 16408, 839),
		{Version: "TLS 1.3", VersionCode: tls.VersionTLS13, Result: ResultFailed},
	}}
	for _, n := range Sizes {
		c := agreed(split(caseConn(tls.VersionTLS12, gcm12, ExtMaxFragmentLength, n, ResultAgreed, 0, 256<<10), caseBound(tls.VersionTLS12, gcm12, "", n), 839))
		if n == 512 {
			c = split(caseConn(tls.VersionTLS12, gcm12, ExtMaxFragmentLength, n, ResultViolated, 0, 0), 0, 839)
			c.ViolatingType, c.AgreedValue = "handshake", 512
		}
		r.Cases = append(r.Cases, c)
	}
	for _, n := range Sizes {
		r.Cases = append(r.Cases, split(caseConn(tls.VersionTLS12, gcm12, ExtRecordSizeLimit, n, ResultIgnored, 0, 256<<10), 16408, 839))
	}
	return r
}

// withRange adds a Range measurement to r.
func withRange(r Report, rr *RangeResult) Report {
	r.Range = rr
	return r
}

var expiry = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// verdictCases are reports as the probe makes them against the kinds of
// server met in the field, and the verdict each must get.
var verdictCases = []struct {
	name  string
	limit int
	r     Report
	want  VerdictKind
}{
	// tlsapp serve --max-record 2048: the 1.2 AES-GCM records are 2072 B,
	// the 1.3 ones 2065 B; each is within its own version's bound. (The
	// old verdict compared 2072 with the TLS 1.3 bound and said "will not
	// work".)
	{"capped 2048, both versions", 2048, Report{Versions: []Connection{
		plainConn(tls.VersionTLS12, gcm12, 2072, 256<<10),
		plainConn(tls.VersionTLS13, gcm13, 2065, 256<<10),
	}, Cases: []Connection{
		caseConn(tls.VersionTLS12, gcm12, ExtRecordSizeLimit, 2048, ResultIgnored, 2072, 256<<10),
		caseConn(tls.VersionTLS13, gcm13, ExtMaxFragmentLength, 1024, ResultIgnored, 1041, 256<<10),
	}}, WorksCapped},
	// ChaCha20 in TLS 1.2 has no explicit nonce: 2048 + 16.
	{"capped 2048, TLS 1.2 ChaCha20", 2048, Report{Versions: []Connection{
		plainConn(tls.VersionTLS12, cha12, 2064, 200<<10),
	}}, WorksCapped},
	// One byte over in TLS 1.2 ChaCha20 is over.
	{"2065 B in TLS 1.2 ChaCha20", 2048, Report{Versions: []Connection{
		plainConn(tls.VersionTLS12, cha12, 2065, 200<<10),
	}}, Fails},
	// Capped, but the file was small: records of a dynamic-sizing server
	// stay small for the first 128 KiB.
	{"small body", 2048, Report{Versions: []Connection{
		plainConn(tls.VersionTLS12, gcm12, 1400, 20<<10),
		plainConn(tls.VersionTLS13, gcm13, 1400, 20<<10),
	}}, Luck},
	// A Go server: 16 KiB records.
	{"uncapped Go server", 2048, Report{Versions: []Connection{
		plainConn(tls.VersionTLS12, gcm12, 16408, 256<<10),
		plainConn(tls.VersionTLS13, gcm13, 16401, 256<<10),
	}, Cases: []Connection{
		caseConn(tls.VersionTLS13, gcm13, ExtRecordSizeLimit, 2048, ResultIgnored, 16401, 256<<10),
	}}, Fails},
	// Ignores the extensions but silently keeps to an offered 2048 while
	// sending 4096-byte records to a client that offers nothing.
	{"keeps an offer silently", 2048, Report{Versions: []Connection{
		plainConn(tls.VersionTLS13, gcm13, 4113, 256<<10),
	}, Cases: []Connection{
		caseConn(tls.VersionTLS13, gcm13, ExtRecordSizeLimit, 2048, ResultIgnored, 2064, 256<<10),
	}}, WorksCapped},
	// OpenSSL: max_fragment_length honoured, record_size_limit ignored.
	{"OpenSSL-like", 2048, Report{Versions: []Connection{
		plainConn(tls.VersionTLS13, gcm13, 16401, 256<<10),
	}, Cases: []Connection{
		caseConn(tls.VersionTLS12, gcm12, ExtMaxFragmentLength, 2048, ResultAgreed, 2072, 256<<10),
		caseConn(tls.VersionTLS13, gcm13, ExtMaxFragmentLength, 2048, ResultAgreed, 2065, 256<<10),
		caseConn(tls.VersionTLS13, gcm13, ExtMaxFragmentLength, 4096, ResultAgreed, 4113, 256<<10),
		caseConn(tls.VersionTLS13, gcm13, ExtRecordSizeLimit, 2048, ResultIgnored, 16401, 256<<10),
	}}, WorksAgreed},
	// GnuTLS in TLS 1.2 with MFL only: echoes it and sends 16 KiB.
	{"agrees and lies", 2048, Report{Versions: []Connection{
		plainConn(tls.VersionTLS12, gcm12, 16408, 256<<10),
	}, Cases: []Connection{
		caseConn(tls.VersionTLS12, gcm12, ExtMaxFragmentLength, 2048, ResultViolated, 16408, 0),
	}}, Fails},
	// An agreement above the device's limit does not help it.
	{"agrees only above the limit", 1024, Report{Versions: []Connection{
		plainConn(tls.VersionTLS13, gcm13, 16401, 256<<10),
	}, Cases: []Connection{
		caseConn(tls.VersionTLS13, gcm13, ExtMaxFragmentLength, 2048, ResultAgreed, 2065, 256<<10),
	}}, Fails},
	// Issue 18, item 3: tlsapp serve with its defaults keeps every offer
	// without answering; the recommendation is the largest offer at the
	// device's limit (fewest records), with that row's own figures.
	{"serve defaults 2048", 2048, serveDefaults(), WorksCapped},
	// Issue 18, item 4: an mbedTLS-like server agrees MFL 512 and breaks
	// it with its Certificate record; the reason names the agreement.
	{"mbedTLS-like 512", 512, withRange(mbedTLSLike(), &RangeResult{Chunk: 180, DeviceLimit: 512, Bound: 536, Version: "TLS 1.2",
		Suite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Size: 1 << 20, Observed: EvidenceBytes, Requests: 912, Connections: 1, HeaderBytes: 308}), Fails},
	{"mbedTLS-like 2048", 2048, mbedTLSLike(), WorksAgreed},
	// Issue 18, item 5: RSL 512 agreed in TLS 1.2 and kept for protected
	// records, but the plaintext Certificate record is 839 B.
	{"RSL kept, plaintext handshake too big", 512, Report{Versions: []Connection{
		split(plainConn(tls.VersionTLS12, gcm12, 0, 256<<10), 16408, 839),
	}, Cases: []Connection{
		agreed(split(caseConn(tls.VersionTLS12, gcm12, ExtRecordSizeLimit, 512, ResultAgreed, 0, 256<<10), 536, 839)),
	}}, Fails},
	// nginx with ssl_buffer_size 1k: application records of 1048 B, but a
	// 2633 B Certificate record in the clear.
	{"small records, big plaintext Certificate", 2048, Report{Versions: []Connection{
		split(plainConn(tls.VersionTLS12, gcm12, 0, 256<<10), 1048, 2633),
	}, Cases: []Connection{
		split(caseConn(tls.VersionTLS12, gcm12, ExtRecordSizeLimit, 2048, ResultIgnored, 0, 256<<10), 1048, 2633),
	}}, Fails},
	// A Go server, with the Range chunk measured: the remedies carry its
	// figures.
	{"uncapped Go server, range measured", 2048, withRange(Report{Target: "127.0.0.1:8443", Path: "/fw.bin", Versions: []Connection{
		split(plainConn(tls.VersionTLS13, gcm13, 0, 256<<10), 16401, 128),
	}}, &RangeResult{Chunk: 1752, DeviceLimit: 2048, Bound: 2065, Version: "TLS 1.3", Suite: "TLS_AES_128_GCM_SHA256",
		Size: 1 << 20, Observed: 168192, Requests: 98, Connections: 1, HeaderBytes: 296}), Fails},
	{"expired leaf", 2048, Report{Failure: &Failure{Kind: FailExpired, Certificate: "CN=127.0.0.1", Leaf: true,
		NotAfter: &expiry, Message: "x509: certificate has expired or is not yet valid"}}, Fails},
	{"unknown CA", 2048, Report{Failure: &Failure{Kind: FailUnknownAuthority, Certificate: "CN=127.0.0.1",
		Leaf: true, Message: "x509: certificate signed by unknown authority"}}, Fails},
}

// TestVerdict checks the verdict of each report, and its whole output
// against a golden file (go test -run TestVerdict -update rewrites them).
func TestVerdict(t *testing.T) {
	for _, tc := range verdictCases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.r.Verdict(tc.limit)
			if v.Kind != tc.want {
				t.Errorf("verdict %q (%s), want %q", v.Kind, v.Summary, tc.want)
			}
			if v.Works != (tc.want == WorksAgreed || tc.want == WorksCapped) {
				t.Errorf("Works %v for %q", v.Works, v.Kind)
			}
			if again := tc.r.Verdict(tc.limit); again.Summary != v.Summary {
				t.Errorf("not a pure function: %q then %q", v.Summary, again.Summary)
			}
			got, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "verdict", slug(tc.name)+".json"), append(got, '\n'), *update)
		})
	}
}

// slug makes a test name a file name.
func slug(s string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' {
			return r
		}
		return '-'
	}, s), "-")
}

// TestRecordBound checks the per-version, per-suite bounds against the
// arithmetic of RFC 8446, RFC 5288 and RFC 7905.
func TestRecordBound(t *testing.T) {
	for _, tc := range []struct {
		version, suite uint16
		ext            string
		limit, want    int
	}{
		{tls.VersionTLS13, gcm13, "", 2048, 2065},
		{tls.VersionTLS13, gcm13, ExtRecordSizeLimit, 2048, 2064},
		{tls.VersionTLS13, tls.TLS_CHACHA20_POLY1305_SHA256, ExtMaxFragmentLength, 512, 529},
		{tls.VersionTLS12, gcm12, "", 2048, 2072},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ExtRecordSizeLimit, 2048, 2072},
		{tls.VersionTLS12, cha12, ExtMaxFragmentLength, 2048, 2064},
	} {
		if got := caseBound(tc.version, tc.suite, tc.ext, tc.limit); got != tc.want {
			t.Errorf("%x %x %s %d: %d, want %d", tc.version, tc.suite, tc.ext, tc.limit, got, tc.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, addr, host, path string
		ok                   bool
	}{
		{"127.0.0.1:8443", "127.0.0.1:8443", "127.0.0.1", "", true},
		{"https://127.0.0.1:8443/fw.bin", "127.0.0.1:8443", "127.0.0.1", "/fw.bin", true},
		{"https://example.com/a?b=c", "example.com:443", "example.com", "/a?b=c", true},
		{"https://[::1]:4433/", "[::1]:4433", "::1", "/", true},
		{"http://127.0.0.1:80/", "", "", "", false},
		{"127.0.0.1", "", "", "", false},
	} {
		addr, host, path, err := ParseTarget(tc.in)
		if (err == nil) != tc.ok || addr != tc.addr || host != tc.host || path != tc.path {
			t.Errorf("%q: %q %q %q %v", tc.in, addr, host, path, err)
		}
	}
}

// TestVerdictBounds puts each comparison of the verdict at its bound and
// one past it: a record at the agreement's bound (kept) and one byte above
// (broken); a max_fragment_length plaintext record at the limit and above;
// a plaintext handshake record at the device's limit and above; a response
// of EvidenceBytes (capped) and one byte less (luck); an agreement at the
// device's limit and one a byte above it; and the order of the offers that
// work (larger limit, agreed, TLS 1.3, record_size_limit first).
func TestVerdictBounds(t *testing.T) {
	big13 := plainConn(tls.VersionTLS13, gcm13, 16401, 256<<10) // records no device takes
	rsl13 := func(limit, largest int) Connection {
		return agreed(caseConn(tls.VersionTLS13, gcm13, ExtRecordSizeLimit, limit, ResultAgreed, largest, 256<<10))
	}
	b13 := caseBound(tls.VersionTLS13, gcm13, ExtRecordSizeLimit, 2048)
	mfl12 := func(plaintext int) Connection {
		return agreed(split(caseConn(tls.VersionTLS12, gcm12, ExtMaxFragmentLength, 2048, ResultAgreed, 0, 256<<10),
			caseBound(tls.VersionTLS12, gcm12, ExtMaxFragmentLength, 2048), plaintext))
	}
	plain12 := func(plaintext int) Connection {
		return split(plainConn(tls.VersionTLS12, gcm12, 0, 256<<10), 2072, plaintext)
	}
	ignored := func(response int64) Connection {
		return caseConn(tls.VersionTLS13, gcm13, ExtRecordSizeLimit, 2048, ResultIgnored, b13, response)
	}
	for _, tc := range []struct {
		name      string
		limit     int
		versions  []Connection
		cases     []Connection
		want      VerdictKind
		recommend string // a part of Recommend, when not empty
		detail    string // a part of some line of Details, when not empty
		noDetail  string // a part of no line of Details, when not empty
	}{
		{"agreed, largest at the bound", 2048, []Connection{big13}, []Connection{rsl13(2048, b13)}, WorksAgreed, "record_size_limit 2048", "", ""},
		{"agreed, largest a byte above the bound", 2048, []Connection{big13}, []Connection{rsl13(2048, b13+1)}, Fails, "", "", ""},
		{"MFL plaintext at the limit", 2048, []Connection{big13}, []Connection{mfl12(2048)}, WorksAgreed, "max_fragment_length 2048", "", ""},
		{"MFL plaintext a byte above the limit", 2048, []Connection{big13}, []Connection{mfl12(2049)}, Fails, "", "", ""},
		{"plaintext handshake at the device's limit", 2048, []Connection{plain12(2048)}, nil, WorksCapped, "", "", "plaintext handshake record"},
		{"plaintext handshake a byte above", 2048, []Connection{plain12(2049)}, nil, Fails, "", "a 2049 B plaintext handshake record", ""},
		{"capped over EvidenceBytes", 2048, []Connection{plainConn(tls.VersionTLS13, gcm13, 2065, EvidenceBytes)}, nil, WorksCapped, "", "", ""},
		{"capped over a byte less", 2048, []Connection{plainConn(tls.VersionTLS13, gcm13, 2065, EvidenceBytes-1)}, nil, Luck, "", "", ""},
		{"offer kept silently over EvidenceBytes", 2048, []Connection{big13}, []Connection{ignored(EvidenceBytes)}, WorksCapped, "record_size_limit 2048", "", ""},
		{"offer kept silently over a byte less", 2048, []Connection{big13}, []Connection{ignored(EvidenceBytes - 1)}, Luck, "", "", ""},
		{"agreement at the device's limit", 2048, []Connection{big13}, []Connection{rsl13(2048, 2000)}, WorksAgreed, "", "", ""},
		{"agreement a byte above the device's limit", 2047, []Connection{big13}, []Connection{rsl13(2048, 2000)}, Fails, "", "", ""},
		{"larger limit first", 2048, []Connection{big13}, []Connection{rsl13(1024, 1000), rsl13(2048, 2000)}, WorksAgreed, "record_size_limit 2048", "", ""},
		{"agreed before kept silently", 2048, []Connection{big13}, []Connection{ignored(EvidenceBytes), rsl13(2048, 2000)}, WorksAgreed, "record_size_limit 2048 with TLS 1.3 (tlsapp get --tls 1.3 --rsl 2048): the largest limit the server keeps, the fewest records", "", ""},
		{"TLS 1.3 first", 2048, []Connection{big13}, []Connection{
			agreed(caseConn(tls.VersionTLS12, gcm12, ExtRecordSizeLimit, 2048, ResultAgreed, 2000, 256<<10)), rsl13(2048, 2000)}, WorksAgreed, "with TLS 1.3", "", ""},
		{"record_size_limit first", 2048, []Connection{big13}, []Connection{
			agreed(caseConn(tls.VersionTLS13, gcm13, ExtMaxFragmentLength, 2048, ResultAgreed, 2000, 256<<10)), rsl13(2048, 2000)}, WorksAgreed, "offer record_size_limit 2048", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Versions: tc.versions, Cases: tc.cases}
			v := r.Verdict(tc.limit)
			if v.Kind != tc.want || !strings.Contains(v.Recommend, tc.recommend) {
				t.Errorf("verdict %q (%s; %s), want %q recommending %q", v.Kind, v.Summary, v.Recommend, tc.want, tc.recommend)
			}
			details := strings.Join(v.Details, "\n")
			if tc.detail != "" && !strings.Contains(details, tc.detail) || tc.noDetail != "" && strings.Contains(details, tc.noDetail) {
				t.Errorf("details %q: want %q in them, %q not", v.Details, tc.detail, tc.noDetail)
			}
		})
	}
}
