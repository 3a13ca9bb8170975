package probe_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/tlsapp/tlsapp/probe"
)

// These tests pin what Report.Verdict says, figure by figure, at each
// comparison whose planted bug (gremlins v0.6.0) no other test saw: the
// content type named for the largest record, the plaintext or protected
// wording of a broken agreement, the row the summary takes its figures
// from, the smallest kept limit above the device's, and the Range
// remedy's count of requests and its "unknown beyond".

// The bounds below are RFC arithmetic for AES-128-GCM: TLS 1.3 adds the
// inner content-type byte and a 16-byte tag (2048 -> 2065; a 1.3
// record_size_limit counts the type byte, 2048 -> 2064), TLS 1.2 an
// 8-byte explicit nonce and the tag (2048 -> 2072).
const (
	suite12 = tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	suite13 = tls.TLS_AES_128_GCM_SHA256
)

// bare is a plain connection (nothing offered) in version v whose largest
// record was largest, over 256 KiB of response.
func bare(v uint16, largest int) probe.Connection {
	c := probe.Connection{Version: "TLS 1.3", VersionCode: v, SuiteCode: suite13, Result: probe.ResultOK,
		LargestReceived: largest, ResponseBytes: 256 << 10}
	if v == tls.VersionTLS12 {
		c.Version, c.SuiteCode = "TLS 1.2", suite12
	}
	return c
}

// offered is a case offering ext at limit, with the given result, bound
// and largest record.
func offered(v uint16, ext string, limit int, result string, bound, largest int) probe.Connection {
	c := bare(v, largest)
	c.Extension, c.Limit, c.Result, c.Bound = ext, limit, result, bound
	if result == probe.ResultAgreed || result == probe.ResultViolated {
		c.AgreedValue = limit
	}
	return c
}

// received sets the largest record per received content type.
func received(c probe.Connection, m map[string]int) probe.Connection {
	c.Largest.Received = m
	return c
}

// splitAt sets the largest protected and plaintext records.
func splitAt(c probe.Connection, protected, plaintext int) probe.Connection {
	c.LargestProtected, c.LargestPlaintext = protected, plaintext
	c.LargestReceived = max(protected, plaintext)
	return c
}

// rangeOf is a Range measurement for a 2048-byte device.
func rangeOf(chunk int, size, observed int64) *probe.RangeResult {
	return &probe.RangeResult{Chunk: chunk, DeviceLimit: 2048, Bound: 2065, Version: "TLS 1.3",
		Suite: "TLS_AES_128_GCM_SHA256", Size: size, Observed: observed, Connections: 1, HeaderBytes: 256}
}

func summary(v probe.Verdict) string { return v.Summary }
func details(v probe.Verdict) string { return strings.Join(v.Details, "\n") }

func remedy(name string) func(probe.Verdict) string {
	return func(v probe.Verdict) string {
		for _, r := range v.Remedies {
			if r.Name == name {
				return r.Text
			}
		}
		return ""
	}
}

// TestVerdictWording checks, at each boundary and one past it, the part
// of the verdict a wrong comparison or sign would change.
func TestVerdictWording(t *testing.T) {
	const (
		mfl = probe.ExtMaxFragmentLength
		rsl = probe.ExtRecordSizeLimit
		v12 = tls.VersionTLS12
		v13 = tls.VersionTLS13
	)
	uncapped := bare(v13, 16401) // 16 KiB records: no device below it works
	withRange := func(rr *probe.RangeResult) *probe.Report {
		return &probe.Report{Target: "127.0.0.1:8443", Versions: []probe.Connection{uncapped}, Range: rr}
	}
	for _, tc := range []struct {
		name  string
		limit int
		r     *probe.Report
		kind  probe.VerdictKind
		part  func(probe.Verdict) string
		want  string // in part
		not   string // not in part, when not empty
	}{
		// The largest record's content type is the one whose largest
		// record is the connection's largest, not another one.
		{"type of the largest record, a smaller one beside it", 2048, &probe.Report{Versions: []probe.Connection{
			received(uncapped, map[string]int{"application_data": 16401, "handshake": 4000}),
		}}, probe.Fails, summary, "(TLS 1.3 with nothing offered: a 16401 B application_data record)", ""},
		{"type of the largest record, one a byte smaller first", 2048, &probe.Report{Versions: []probe.Connection{
			received(uncapped, map[string]int{"application_data": 16400, "handshake": 16401}),
		}}, probe.Fails, summary, "(TLS 1.3 with nothing offered: a 16401 B handshake record)", ""},
		{"type of the record that broke an agreement", 2048, &probe.Report{Versions: []probe.Connection{uncapped}, Cases: []probe.Connection{
			received(offered(v13, rsl, 2048, probe.ResultAgreed, 2064, 2065), map[string]int{"application_data": 2065, "handshake": 1200}),
		}}, probe.Fails, details, "TLS 1.3 record_size_limit 2048: the server agreed and then sent a 2065 B application_data record, above the 2064 B bound of the agreement", ""},

		// A largest plaintext record of 0 is a report that does not split
		// its records (every record counts as protected); from 1 B on, a
		// plaintext record that is the largest is held to the limit.
		{"broken agreement, no plaintext figure", 2048, &probe.Report{Cases: []probe.Connection{
			splitAt(offered(v12, mfl, 2048, probe.ResultViolated, 2072, 0), 0, 0),
		}}, probe.Fails, summary, "it sent a 0 B record, above the 2072 B bound of the agreement", "plaintext"},
		{"broken agreement, 1 B plaintext record the largest", 2048, &probe.Report{Cases: []probe.Connection{
			splitAt(offered(v12, mfl, 2048, probe.ResultViolated, 2072, 0), 0, 1),
		}}, probe.Fails, summary, "it sent a 1 B record, above the agreed 2048 B (a plaintext record has no protection to add)", ""},

		// "Agreed and kept above the device's limit" lists what was kept,
		// and is not said when nothing was.
		{"agreed above the limit, none kept", 1024, &probe.Report{Versions: []probe.Connection{uncapped}, Cases: []probe.Connection{
			offered(v13, rsl, 2048, probe.ResultAgreed, 2064, 2065),
		}}, probe.Fails, details, "", "agreed and kept above"},
		{"agreed above the limit, one kept", 1024, &probe.Report{Versions: []probe.Connection{uncapped}, Cases: []probe.Connection{
			offered(v13, rsl, 2048, probe.ResultAgreed, 2064, 2064),
		}}, probe.Fails, details, "agreed and kept above the device's limit: TLS 1.3 record_size_limit 2048", ""},

		// A server that caps every plain connection: the summary's
		// figures are those of the record closest to its bound (the
		// first among equals).
		{"capped, 1.3 at its bound, 1.2 a byte below", 2048, &probe.Report{Versions: []probe.Connection{
			bare(v12, 2071), bare(v13, 2065),
		}}, probe.WorksCapped, summary, "(largest 2065 B in TLS 1.3, bound 2065 B; over 262144 B of response)", ""},
		{"capped, both at their bounds", 2048, &probe.Report{Versions: []probe.Connection{
			bare(v12, 2072), bare(v13, 2065),
		}}, probe.WorksCapped, summary, "(largest 2072 B in TLS 1.2, bound 2072 B; over 262144 B of response)", ""},
		{"capped, 1.3 a byte below, 1.2 two below", 2048, &probe.Report{Versions: []probe.Connection{
			bare(v12, 2070), bare(v13, 2064),
		}}, probe.WorksCapped, summary, "(largest 2064 B in TLS 1.3, bound 2065 B; over 262144 B of response)", ""},

		// A server that fails: the summary names the record furthest
		// above its bound, the connection that offered nothing first
		// among equals, an ignored offer included.
		{"fails, 1.3 further above its bound than 1.2", 2048, &probe.Report{Versions: []probe.Connection{
			bare(v12, 3000), bare(v13, 4113),
		}}, probe.Fails, summary, "records of up to 4113 B (TLS 1.3 with nothing offered: a 4113 B record), above the 2065 B bound", ""},
		{"fails, an ignored offer as far above as the plain connection", 2048, &probe.Report{Versions: []probe.Connection{
			bare(v13, 4113),
		}, Cases: []probe.Connection{
			offered(v13, rsl, 2048, probe.ResultIgnored, 2064, 4113),
		}}, probe.Fails, summary, "records of up to 4113 B (TLS 1.3 with nothing offered: a 4113 B record)", ""},
		{"fails, an ignored offer a byte further above", 2048, &probe.Report{Versions: []probe.Connection{
			bare(v13, 4113),
		}, Cases: []probe.Connection{
			offered(v13, rsl, 2048, probe.ResultIgnored, 2064, 4114),
		}}, probe.Fails, summary, "records of up to 4114 B (TLS 1.3 record_size_limit 2048: a 4114 B record)", ""},
		{"fails, only an ignored offer", 2048, &probe.Report{Cases: []probe.Connection{
			offered(v13, rsl, 2048, probe.ResultIgnored, 2064, 16401),
		}}, probe.Fails, summary, "records of up to 16401 B (TLS 1.3 record_size_limit 2048: a 16401 B record)", ""},
		// A plaintext record is over the device's limit by its excess
		// over the limit itself, not over the bound of a protected
		// record: a 2049 B TLS 1.2 Certificate is further over a
		// 2048-byte device than a 2065 B TLS 1.3 record, which fits.
		{"fails, a plaintext record a byte over, a protected one at its bound", 2048, &probe.Report{Versions: []probe.Connection{
			bare(v13, 2065), splitAt(bare(v12, 0), 1048, 2049),
		}}, probe.Fails, summary, "fails: TLS 1.2 with nothing offered: a 2049 B plaintext handshake record, above the device's 2048 B", "above the 2065 B bound"},
		{"fails, a plaintext record and a protected one a byte over", 2048, &probe.Report{Versions: []probe.Connection{
			bare(v13, 2066), splitAt(bare(v12, 0), 1048, 2049),
		}}, probe.Fails, summary, "records of up to 2066 B (TLS 1.3 with nothing offered: a 2066 B record), above the 2065 B bound", ""},
		{"fails, a plaintext record two bytes over, a protected one a byte", 2048, &probe.Report{Versions: []probe.Connection{
			bare(v13, 2066), splitAt(bare(v12, 0), 1048, 2050),
		}}, probe.Fails, summary, "fails: TLS 1.2 with nothing offered: a 2050 B plaintext handshake record, above the device's 2048 B", ""},
		{"fails, a protected record further over than a plaintext one", 2048, &probe.Report{Versions: []probe.Connection{
			splitAt(bare(v13, 0), 2100, 128), splitAt(bare(v12, 0), 1048, 2060),
		}}, probe.Fails, summary, "records of up to 2100 B (TLS 1.3 with nothing offered: a 2100 B record), above the 2065 B bound", ""},
		// A failed connection has no records to judge: it is the reason
		// nothing succeeded, not the worst record.
		{"fails, only a failed offer", 2048, &probe.Report{Cases: []probe.Connection{
			func() probe.Connection {
				c := offered(v13, rsl, 2048, probe.ResultFailed, 2064, 0)
				c.Failure = &probe.Failure{Kind: probe.FailAlert, Alert: "handshake_failure"}
				return c
			}(),
		}}, probe.Fails, summary, "fails: no connection offering a limit of 2048 B or less succeeded (TLS 1.3 record_size_limit 2048: the server sent the alert handshake_failure)", ""},

		// TLS on the application core offers the smallest limit above the
		// device's that the server keeps, the first of equals.
		{"kept above, two offers of the same limit", 1024, &probe.Report{Versions: []probe.Connection{uncapped}, Cases: []probe.Connection{
			offered(v13, mfl, 4096, probe.ResultAgreed, 4113, 4113),
			offered(v13, rsl, 4096, probe.ResultAgreed, 4112, 4112),
		}}, probe.Fails, remedy(probe.RemedyAppCore), "which offers max_fragment_length 4096, which the server keeps: about 38.6 KiB", ""},
		{"kept above, a smaller limit second", 1024, &probe.Report{Versions: []probe.Connection{uncapped}, Cases: []probe.Connection{
			offered(v13, mfl, 4096, probe.ResultAgreed, 4113, 4113),
			offered(v13, rsl, 2048, probe.ResultAgreed, 2064, 2064),
		}}, probe.Fails, remedy(probe.RemedyAppCore), "which offers record_size_limit 2048, which the server keeps", ""},

		// The Range remedy's requests are the size over the chunk,
		// rounded up: a size one short of a multiple, the multiple, one
		// past it.
		{"range, size a byte short of 4 chunks", 2048, withRange(rangeOf(1024, 4095, 4095)), probe.Fails, remedy(probe.RemedyRange),
			"over 4095 B of the 4095 B resource: 4 requests, one round trip each", ""},
		{"range, size 4 chunks", 2048, withRange(rangeOf(1024, 4096, 4096)), probe.Fails, remedy(probe.RemedyRange),
			"over 4096 B of the 4096 B resource: 4 requests, one round trip each", ""},
		{"range, size a byte past 4 chunks", 2048, withRange(rangeOf(1024, 4097, 4097)), probe.Fails, remedy(probe.RemedyRange),
			"over 4097 B of the 4097 B resource: 5 requests, one round trip each", ""},
		{"range, chunk of 1 B", 2048, withRange(rangeOf(1, 1, 1)), probe.Fails, remedy(probe.RemedyRange),
			"over 1 B of the 1 B resource: 1 requests", ""},

		// "Unknown beyond" is said whenever the measurement stopped short
		// of the end, even at byte 0, and not when it saw everything.
		{"range, all observed", 2048, withRange(rangeOf(1024, 4096, 4096)), probe.Fails, remedy(probe.RemedyRange),
			"(25% on top of the body)", "unknown beyond"},
		{"range, observed a byte short", 2048, withRange(rangeOf(1024, 4096, 4095)), probe.Fails, remedy(probe.RemedyRange),
			"(25% on top of the body); unknown beyond 4095 B except the last chunk", ""},
		{"range, nothing observed in sequence", 2048, withRange(rangeOf(1024, 4096, 0)), probe.Fails, remedy(probe.RemedyRange),
			"(25% on top of the body); unknown beyond 0 B except the last chunk", ""},
		{"range, 1 B observed in sequence", 2048, withRange(rangeOf(1024, 4096, 1)), probe.Fails, remedy(probe.RemedyRange),
			"(25% on top of the body); unknown beyond 1 B except the last chunk", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.r.Verdict(tc.limit)
			if v.Kind != tc.kind {
				t.Errorf("verdict %q (%s), want %q", v.Kind, v.Summary, tc.kind)
			}
			got := tc.part(v)
			if !strings.Contains(got, tc.want) {
				t.Errorf("got\n\t%s\nwant it to contain\n\t%s", got, tc.want)
			}
			if tc.not != "" && strings.Contains(got, tc.not) {
				t.Errorf("got\n\t%s\nwant no %q in it", got, tc.not)
			}
		})
	}
}
