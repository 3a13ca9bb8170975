package probe

import (
	"fmt"
	"sort"
	"strings"
)

// VerdictKind is the answer to "will a device limited to N-byte records
// work with this server?".
type VerdictKind string

// The verdicts, from the best.
const (
	// WorksAgreed: the server answered an extension at or below the limit
	// and kept to it.
	WorksAgreed VerdictKind = "works (agreed and kept)"
	// WorksCapped: the server answered neither extension, but every record
	// stayed within the limit over a body large enough to have needed
	// bigger records (EvidenceBytes).
	WorksCapped VerdictKind = "works (capped without answering)"
	// Luck: the records fitted, but too little data came to tell.
	Luck VerdictKind = "fits only by luck"
	// Fails: records above the limit, a server that broke its word, or no
	// connection.
	Fails VerdictKind = "fails"
)

// EvidenceBytes is how much application data one connection must have
// received for records within the limit to show that the server caps them:
// Go's crypto/tls, like other stacks with dynamic record sizing, sends
// records of about 1.2 KiB for the first 128 KiB of a connection and 16 KiB
// ones after that.
const EvidenceBytes = 160 << 10

// Verdict is the probe's answer for one device limit.
type Verdict struct {
	Kind    VerdictKind `json:"kind"`
	Works   bool        `json:"works"`
	Summary string      `json:"summary"`
	// Recommend is what to do: the offer to make, or what to change.
	Recommend string `json:"recommend,omitempty"`
	// Details are the other rows worth knowing, each with its own
	// figures: agreements broken, handshake records a device without
	// record_size_limit cannot hold, offers that also work.
	Details []string `json:"details,omitempty"`
	// Remedies are, for a device that fails, the ways to make it work
	// without changing the server, with this server's figures.
	Remedies []Remedy `json:"remedies,omitempty"`
}

// Remedy is one way to make a device work with a server it fails with.
type Remedy struct {
	// Name is "application-core-tls", "edge" or "range-chunk".
	Name string `json:"name"`
	Text string `json:"text"`
}

// The remedies' names.
const (
	RemedyAppCore = "application-core-tls"
	RemedyEdge    = "edge"
	RemedyRange   = "range-chunk"
)

// appCoreHeap is tlsapp's heap per connection at a record limit, from
// BENCHMARKS.md (BenchmarkConnMemory, the run of 2026-12-01): the peak
// during a 1 MiB download and what an idle connection retains. Update it
// with BENCHMARKS.md.
var appCoreHeap = []struct {
	limit          int // 0: no limit (16 KiB records)
	peak, retained string
}{
	{512, "39.0", "7.5"},
	{1024, "37.8", "9.2"},
	{2048, "38.6", "9.2"},
	{4096, "38.6", "11.0"},
	{0, "47.2", "24.2"},
}

// row is a connection judged against the device's limit.
type row struct {
	c Connection
	// bound is the longest protected record the device takes in c's
	// version and suite.
	bound int
}

func (w row) name() string {
	if w.c.Extension == "" {
		return w.c.Version + " with nothing offered"
	}
	return fmt.Sprintf("%s %s %d", w.c.Version, w.c.Extension, w.c.Limit)
}

// protected is the largest protected record received (a report that does
// not split LargestReceived counts every record as protected).
func (w row) protected() int {
	if w.c.LargestProtected == 0 && w.c.LargestPlaintext == 0 {
		return w.c.LargestReceived
	}
	return w.c.LargestProtected
}

// fits reports whether every record the connection received fits the
// device: protected ones within bound, plaintext ones within the limit
// itself (a device has no expansion to spare for records in the clear).
func (w row) fits(L int) bool { return w.protected() <= w.bound && w.c.LargestPlaintext <= L }

// plaintextTooBig reports a plaintext record (a hello, a TLS 1.2
// Certificate) above the device's limit.
func (w row) plaintextTooBig(L int) bool { return w.c.LargestPlaintext > L }

func (w row) evidence() bool { return w.c.ResponseBytes >= EvidenceBytes }

// over is how far the connection's worst record is above what the device
// takes: a protected record above bound, a plaintext one above the limit
// itself. It is positive exactly when the connection does not fit.
func (w row) over(L int) int { return max(w.protected()-w.bound, w.c.LargestPlaintext-L) }

// kept reports an agreement kept: record_size_limit binds the protected
// records (RFC 8449), max_fragment_length every record (RFC 6066).
func (w row) kept() bool {
	if w.c.Result != ResultAgreed {
		return false
	}
	if w.c.Extension == ExtMaxFragmentLength && w.c.LargestPlaintext > w.c.Limit {
		return false
	}
	return w.protected() <= w.c.Bound
}

func (w row) broke() bool {
	return w.c.Result == ResultViolated || w.c.Result == ResultAgreed && !w.kept()
}

// largestType names the content type of the connection's largest record.
func (w row) largestType() string {
	if w.c.ViolatingType != "" {
		return w.c.ViolatingType
	}
	for _, t := range []string{"application_data", "handshake", "alert", "change_cipher_spec"} {
		if n, ok := w.c.Largest.Received[t]; ok && n == w.c.LargestReceived {
			return t
		}
	}
	return ""
}

// overBound says what the connection's largest record is above: the
// agreed limit itself for a plaintext record, the bound for a protected one.
func (w row) overBound() string {
	if w.c.LargestPlaintext == w.c.LargestReceived && w.c.LargestPlaintext > 0 {
		return fmt.Sprintf("above the agreed %d B (a plaintext record has no protection to add)", w.c.Limit)
	}
	return fmt.Sprintf("above the %d B bound of the agreement", w.c.Bound)
}

// plainText gives the largest plaintext record, when the report has it.
func (w row) plainText() string {
	if w.c.LargestPlaintext == 0 {
		return ""
	}
	return fmt.Sprintf("; largest plaintext record %d B", w.c.LargestPlaintext)
}

func recordOf(n int, typ string) string {
	if typ == "" {
		return fmt.Sprintf("a %d B record", n)
	}
	return fmt.Sprintf("a %d B %s record", n, typ)
}

// Verdict decides whether a device that takes records of at most
// deviceLimit content bytes works with the server r describes. It is a
// pure function of r and deviceLimit. Each connection's records are
// compared with the bound of the version and cipher suite that connection
// used, and its plaintext records with the limit itself.
//
// The recommendation is the offer that fits the device with the fewest
// records: the largest limit, at or below the device's, that the server
// keeps (agreed, or kept without answering over EvidenceBytes), an
// agreement before a silent cap, TLS 1.3 before 1.2, record_size_limit
// before max_fragment_length; a server that keeps every connection within
// the limit on its own needs no offer. A device that fails gets the three
// remedies that leave the server as it is, with this server's figures
// (the Range chunk's when r.Range was measured for deviceLimit).
func (r *Report) Verdict(deviceLimit int) Verdict {
	L := deviceLimit
	var v Verdict
	if r.Failure != nil {
		v.Kind = Fails
		v.Summary = "no TLS 1.2 or 1.3 connection could be made: " + r.Failure.String()
		if r.Failure.Verification() && !r.Insecure {
			v.Summary = "could not verify the server's certificate (" + r.Failure.String() + "): nothing else was probed"
			v.Recommend = "give the right CA with --ca or --store, or rerun with --insecure to probe anyway"
		}
		return v
	}
	mk := func(c Connection) row { return row{c: c, bound: recordBound(c.VersionCode, c.SuiteCode, L)} }
	var plain, cases, above []row
	for _, c := range r.Versions {
		if c.Result == ResultOK {
			plain = append(plain, mk(c))
		}
	}
	for _, c := range r.Cases {
		switch {
		case c.Result == ResultSkipped:
		case c.Limit <= L:
			cases = append(cases, mk(c))
		case c.Result == ResultAgreed:
			above = append(above, mk(c))
		}
	}

	// What to flag whatever the verdict, row by row with its own figures.
	var broke, keptTooBig []row
	for _, w := range cases {
		switch {
		case w.broke():
			broke = append(broke, w)
			v.Details = append(v.Details, fmt.Sprintf("%s: the server agreed and then sent %s, %s",
				w.name(), recordOf(w.c.LargestReceived, w.largestType()), w.overBound()))
		case w.kept() && w.plaintextTooBig(L):
			keptTooBig = append(keptTooBig, w)
			v.Details = append(v.Details, fmt.Sprintf("%s: agreed and kept for protected records, but a %d B plaintext handshake record came first, above the device's %d B: "+
				"RFC 8449 allows it (record_size_limit binds only protected records), a device whose buffer is the limit (a modem, which has no record_size_limit) fails on it",
				w.name(), w.c.LargestPlaintext, L))
		}
	}
	for _, w := range plain {
		if w.plaintextTooBig(L) {
			v.Details = append(v.Details, fmt.Sprintf("%s: a %d B plaintext handshake record, above the device's %d B: a modem fails in the handshake, whatever the records after it",
				w.name(), w.c.LargestPlaintext, L))
		}
	}
	var kept []string
	for _, w := range above {
		if w.kept() {
			kept = append(kept, fmt.Sprintf("%s %s %d", w.c.Version, w.c.Extension, w.c.Limit))
		}
	}
	if len(kept) > 0 {
		v.Details = append(v.Details, "agreed and kept above the device's limit: "+strings.Join(kept, ", "))
	}

	// The offers that work, best first.
	type offer struct {
		w      row
		agreed bool
	}
	var works []offer
	for _, w := range cases {
		switch {
		case w.kept() && w.fits(L):
			works = append(works, offer{w, true})
		case w.c.Result == ResultIgnored && w.fits(L) && w.evidence():
			works = append(works, offer{w, false})
		}
	}
	sort.SliceStable(works, func(i, j int) bool {
		a, b := works[i], works[j]
		switch {
		case a.w.c.Limit != b.w.c.Limit:
			return a.w.c.Limit > b.w.c.Limit
		case a.agreed != b.agreed:
			return a.agreed
		case a.w.c.VersionCode != b.w.c.VersionCode:
			return a.w.c.VersionCode > b.w.c.VersionCode
		}
		return a.w.c.Extension == ExtRecordSizeLimit && b.w.c.Extension != ExtRecordSizeLimit
	})
	plainFit, plainEvidence := true, false // plainFit counts only with evidence, which needs a row
	var plainWorst row
	for i, w := range plain {
		plainFit = plainFit && w.fits(L)
		plainEvidence = plainEvidence || w.evidence()
		if i == 0 || w.c.LargestReceived-w.bound > plainWorst.c.LargestReceived-plainWorst.bound {
			plainWorst = w
		}
	}

	switch {
	case plainFit && plainEvidence:
		w := plainWorst
		v.Kind, v.Works = WorksCapped, true
		v.Summary = fmt.Sprintf("%s: the server answers neither extension but keeps every record within %d B of content on its own "+
			"(largest %d B in %s, bound %d B%s; over %d B of response)",
			v.Kind, L, w.protected(), w.c.Version, w.bound, w.plainText(), w.c.ResponseBytes)
		v.Recommend = "nothing to negotiate (a device that keeps its modem's TLS works too); keep the server's record cap configured as it is"
		return v
	case len(works) > 0:
		best := works[0]
		w := best.w
		if best.agreed {
			v.Kind = WorksAgreed
			v.Summary = fmt.Sprintf("%s: the server agrees to %s %d in %s and keeps to it (largest record %d B, bound %d B%s)",
				v.Kind, w.c.Extension, w.c.Limit, w.c.Version, w.protected(), w.c.Bound, w.plainText())
		} else {
			v.Kind = WorksCapped
			v.Summary = fmt.Sprintf("%s: the server answers neither extension but keeps its records within an offered %s %d in %s "+
				"(largest record %d B, bound %d B%s; over %d B of response)",
				v.Kind, w.c.Extension, w.c.Limit, w.c.Version, w.protected(), w.c.Bound, w.plainText(), w.c.ResponseBytes)
		}
		v.Works = true
		flag := "--mfl"
		if w.c.Extension == ExtRecordSizeLimit {
			flag = "--rsl"
		}
		v.Recommend = fmt.Sprintf("offer %s %d with %s (tlsapp get --tls %s %s %d): the largest limit the server keeps, the fewest records",
			w.c.Extension, w.c.Limit, w.c.Version, strings.TrimPrefix(w.c.Version, "TLS "), flag, w.c.Limit)
		if !best.agreed {
			v.Recommend += "; it keeps to it without saying so"
		}
		var also []string
		for i, o := range works[1:] {
			if i == 4 {
				also = append(also, fmt.Sprintf("and %d more", len(works)-5))
				break
			}
			also = append(also, fmt.Sprintf("%s %s %d", o.w.c.Version, o.w.c.Extension, o.w.c.Limit))
		}
		if len(also) > 0 {
			v.Details = append(v.Details, "also fine, with more records: "+strings.Join(also, ", "))
		}
		return v
	}

	// Nothing works for sure: fits by luck, or fails.
	var lucky []row
	for _, w := range append(append([]row(nil), plain...), cases...) {
		if (w.c.Result == ResultOK || w.c.Result == ResultIgnored) && w.fits(L) && !w.evidence() {
			lucky = append(lucky, w)
		}
	}
	if len(lucky) > 0 {
		w := lucky[0]
		v.Kind = Luck
		v.Summary = fmt.Sprintf("%s: the server answers neither extension; its records stayed within %d B here (%s: largest %d B, bound %d B) "+
			"but only %d B of response came, less than the %d B it takes to tell a capped server from one whose records are still small",
			v.Kind, L, w.name(), w.c.LargestReceived, w.bound, w.c.ResponseBytes, EvidenceBytes)
		v.Recommend = "probe a larger file (--path), or have the server cap its records (OpenSSL -max_send_frag, nginx ssl_buffer_size)"
		v.Remedies = r.remedies(L, above)
		return v
	}

	v.Kind = Fails
	v.Remedies = r.remedies(L, above)
	switch {
	case len(broke) > 0:
		w := broke[0]
		for _, b := range broke[1:] {
			if b.c.Limit > w.c.Limit || b.c.Limit == w.c.Limit && b.c.VersionCode > w.c.VersionCode {
				w = b
			}
		}
		v.Summary = fmt.Sprintf("%s: the server agrees to %s %d in %s and then breaks the agreement: it sent %s, %s",
			v.Kind, w.c.Extension, w.c.Limit, w.c.Version, recordOf(w.c.LargestReceived, w.largestType()), w.overBound())
		v.Recommend = "have the server's vendor fix its record sizing under the extension it agreed to, or take one of the remedies"
	case len(keptTooBig) > 0:
		w := keptTooBig[0]
		v.Summary = fmt.Sprintf("%s: the server agrees to %s %d in %s and keeps it for protected records, but sends a %d B plaintext handshake record first, above the device's %d B",
			v.Kind, w.c.Extension, w.c.Limit, w.c.Version, w.c.LargestPlaintext, L)
		v.Recommend = "a device that can take the handshake's plaintext records (TLS on the application core) works with it; otherwise take one of the remedies"
	default:
		// The record furthest above what the device takes (a plaintext
		// one counts from the limit, not the bound), the connection that
		// offered nothing first among equals.
		var worst *row
		all := append(append([]row(nil), plain...), cases...)
		for i := range all {
			w := &all[i]
			if w.c.Result != ResultOK && w.c.Result != ResultIgnored && w.c.Result != ResultAgreed {
				continue
			}
			if worst == nil || w.over(L) > worst.over(L) {
				worst = w
			}
		}
		switch {
		case worst != nil && worst.plaintextTooBig(L) && worst.protected() <= worst.bound:
			v.Summary = fmt.Sprintf("%s: %s: a %d B plaintext handshake record, above the device's %d B", v.Kind, worst.name(), worst.c.LargestPlaintext, L)
			v.Recommend = "have the server send a smaller chain or split its handshake records, or take one of the remedies"
		case worst != nil:
			who := "the server answers neither extension at or below the device's limit"
			if len(above) > 0 {
				who = "the server agrees only above the device's limit, answers neither extension at or below it,"
			}
			v.Summary = fmt.Sprintf("%s: %s and sends records of up to %d B (%s: %s), above the %d B bound of a %d-byte device limit",
				v.Kind, who, worst.c.LargestReceived, worst.name(), recordOf(worst.c.LargestReceived, worst.largestType()), worst.bound, L)
			v.Recommend = "have the server cap its records (OpenSSL -max_send_frag, nginx ssl_buffer_size) or enable max_fragment_length on it, or take one of the remedies"
		default:
			why := ""
			for _, w := range cases {
				if w.c.Failure != nil {
					why = fmt.Sprintf(" (%s: %s)", w.name(), w.c.Failure.String())
					break
				}
			}
			v.Summary = fmt.Sprintf("%s: no connection offering a limit of %d B or less succeeded%s", v.Kind, L, why)
		}
	}
	return v
}

// remedies are the three ways to make a device work without changing the
// server, with the figures this report has.
func (r *Report) remedies(L int, above []row) []Remedy {
	// TLS on the application core holds what the server sends: 16 KiB
	// records, or the smallest limit above the device's it keeps.
	limit, how := 0, "takes the server's 16 KiB records"
	for _, w := range above {
		if w.kept() && (limit == 0 || w.c.Limit < limit) {
			limit = w.c.Limit
			how = fmt.Sprintf("offers %s %d, which the server keeps", w.c.Extension, w.c.Limit)
		}
	}
	heap := appCoreHeap[len(appCoreHeap)-1]
	for _, h := range appCoreHeap {
		if h.limit != 0 && h.limit >= limit && limit != 0 {
			heap = h
			break
		}
	}
	rem := []Remedy{
		{RemedyAppCore, fmt.Sprintf("run TLS on the application core with this library (tlsapp), which %s: about %s KiB of heap per connection at its peak, %s KiB retained when idle (BENCHMARKS.md)",
			how, heap.peak, heap.retained)},
		{RemedyEdge, fmt.Sprintf("put a modem-safe edge in front of the origin (tlsapp edge --origin https://%s --max-record %d): every record it sends, the handshake's included, carries at most %d B",
			r.Target, L, L)},
	}
	rr := r.Range
	switch {
	case rr != nil && rr.DeviceLimit == L && rr.Chunk > 0 && rr.Size > 0:
		n := (rr.Size + int64(rr.Chunk) - 1) / int64(rr.Chunk)
		on := "one kept-alive connection"
		if rr.Connections > 1 {
			on = fmt.Sprintf("%d kept-alive connections (a record did not fit on the first)", rr.Connections)
		}
		text := fmt.Sprintf("keep the device's TLS and fetch in Range requests of %d B (tlsapp get --range-chunk %d --device-limit %d), measured on %s over %d B of the %d B resource: "+
			"%d requests, one round trip each, every answer with a header of up to %d B (%.0f%% on top of the body)",
			rr.Chunk, rr.Chunk, L, on, rr.Observed, rr.Size, n, rr.HeaderBytes, 100*float64(rr.HeaderBytes)/float64(rr.Chunk))
		if u := rr.UnknownBeyond(); u >= 0 {
			text += fmt.Sprintf("; unknown beyond %d B except the last chunk", u)
		}
		rem = append(rem, Remedy{RemedyRange, text})
	case r.RangeError != "":
		rem = append(rem, Remedy{RemedyRange, "Range requests do not help with this server: " + r.RangeError})
	default:
		rem = append(rem, Remedy{RemedyRange, fmt.Sprintf("Range requests: not measured for a %d-byte device (probe --device-limit %d measures them)", L, L)})
	}
	return rem
}

// String describes f in a sentence for people ("" for a nil f).
func (f *Failure) String() string {
	if f == nil {
		return ""
	}
	switch f.Kind {
	case FailExpired:
		who := "a CA certificate"
		if f.Leaf {
			who = "the server's own certificate"
		}
		s := fmt.Sprintf("%s (%s) has expired or is not yet valid", who, f.Certificate)
		if f.NotAfter != nil {
			s += fmt.Sprintf("; valid until %s", f.NotAfter.Format("2006-01-02 15:04 UTC"))
		}
		return s
	case FailUnknownAuthority:
		return fmt.Sprintf("no trust anchor given issued the chain (%s is signed by an unknown authority)", f.Certificate)
	case FailNameMismatch:
		return fmt.Sprintf("the certificate (%s) is not for this server name", f.Certificate)
	case FailAlert:
		return "the server sent the alert " + f.Alert
	}
	return string(f.Kind) + ": " + f.Message
}
