package probe

import (
	"fmt"
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
	Kind      VerdictKind `json:"kind"`
	Works     bool        `json:"works"`
	Summary   string      `json:"summary"`
	Recommend string      `json:"recommend,omitempty"`
	Details   []string    `json:"details,omitempty"`
}

// Judge decides whether a device that takes records of at most deviceLimit
// content bytes works with the server r describes. It is a pure function of
// its arguments. Each connection's records are compared with the bound of
// the version and cipher suite that connection used.
func Judge(r *Report, deviceLimit int) Verdict {
	L := deviceLimit
	var v Verdict
	if r.Failure != nil {
		v.Kind = Fails
		v.Summary = "no TLS 1.2 or 1.3 connection could be made: " + failureText(r.Failure)
		if r.Failure.Verification() && !r.Insecure {
			v.Summary = "could not verify the server's certificate (" + failureText(r.Failure) + "): nothing else was probed"
			v.Recommend = "give the right CA with --ca or --store, or rerun with --insecure to probe anyway"
		}
		return v
	}
	var good, lied []Connection
	for _, c := range r.Cases {
		if c.Limit > L {
			continue
		}
		switch {
		case c.Result == ResultAgreed && c.LargestReceived <= c.Bound:
			good = append(good, c)
		case c.Result == ResultViolated || c.Result == ResultAgreed:
			lied = append(lied, c)
		}
	}
	for _, c := range lied {
		v.Details = append(v.Details, fmt.Sprintf("%s %s %d: the server agreed and then sent a %d-byte record (bound %d)",
			c.Version, c.Extension, c.Limit, c.LargestReceived, c.Bound))
	}
	if len(good) > 0 {
		best := good[0]
		for _, c := range good[1:] {
			// Prefer the largest limit within the device's, then TLS 1.3,
			// then record_size_limit (it can state any size).
			if c.Limit > best.Limit || c.Limit == best.Limit && (c.VersionCode > best.VersionCode ||
				c.VersionCode == best.VersionCode && c.Extension == ExtRecordSizeLimit) {
				best = c
			}
		}
		v.Kind, v.Works = WorksAgreed, true
		v.Summary = fmt.Sprintf("%s: the server agrees to %s %d in %s and keeps to it (largest record %d B, bound %d B)",
			v.Kind, best.Extension, best.Limit, best.Version, best.LargestReceived, best.Bound)
		flag := "--mfl"
		if best.Extension == ExtRecordSizeLimit {
			flag = "--rsl"
		}
		v.Recommend = fmt.Sprintf("offer %s %d with %s (tlsapp get --tls %s %s %d)", best.Extension, best.Limit, best.Version,
			strings.TrimPrefix(best.Version, "TLS "), flag, best.Limit)
		for _, c := range good {
			if c.Version != best.Version || c.Extension != best.Extension || c.Limit != best.Limit {
				v.Details = append(v.Details, fmt.Sprintf("also fine: %s %s %d", c.Version, c.Extension, c.Limit))
			}
		}
		return v
	}

	// No agreement: group the connections the server answered with nothing
	// by what they offered, and judge each group against the device's
	// limit in each connection's own version and suite.
	type group struct {
		name              string
		conns, fit, large int
		worst             Connection
		worstBound        int
	}
	var groups []*group
	find := func(name string) *group {
		for _, g := range groups {
			if g.name == name {
				return g
			}
		}
		g := &group{name: name}
		groups = append(groups, g)
		return g
	}
	add := func(name string, c Connection) {
		g := find(name)
		b := RecordBound(c.VersionCode, c.SuiteCode, L)
		g.conns++
		if c.LargestReceived <= b {
			g.fit++
			if c.ResponseBytes >= EvidenceBytes {
				g.large++
			}
		}
		if c.LargestReceived-b > g.worst.LargestReceived-g.worstBound || g.conns == 1 {
			g.worst, g.worstBound = c, b
		}
	}
	for _, c := range r.Versions {
		if c.Result == ResultOK {
			add("", c)
		}
	}
	for _, c := range r.Cases {
		if c.Result == ResultIgnored && c.Limit <= L {
			add(fmt.Sprintf("%s %d", c.Extension, c.Limit), c)
		}
	}
	var lucky *group
	for _, g := range groups {
		if g.fit < g.conns {
			continue
		}
		if g.large > 0 {
			v.Kind, v.Works = WorksCapped, true
			if g.name == "" {
				v.Summary = fmt.Sprintf("%s: the server answers neither extension but keeps every record within %d B of content "+
					"on its own (largest %d B in %s, bound %d B, over %d B of response)",
					v.Kind, L, g.worst.LargestReceived, g.worst.Version, g.worstBound, g.worst.ResponseBytes)
				v.Recommend = "nothing to negotiate; keep the server's record cap configured as it is"
			} else {
				v.Summary = fmt.Sprintf("%s: the server answers neither extension but keeps its records within an offered %s "+
					"(largest %d B in %s, bound %d B)", v.Kind, g.name, g.worst.LargestReceived, g.worst.Version, g.worstBound)
				v.Recommend = "offer " + g.name + ": the server keeps to it without saying so"
			}
			return v
		}
		if lucky == nil {
			lucky = g
		}
	}
	if lucky != nil {
		v.Kind = Luck
		v.Summary = fmt.Sprintf("%s: the server answers neither extension; its records stayed within %d B here (largest %d B in %s, bound %d B) "+
			"but only %d B of response came, less than the %d B it takes to tell a capped server from one whose records are still small",
			v.Kind, L, lucky.worst.LargestReceived, lucky.worst.Version, lucky.worstBound, lucky.worst.ResponseBytes, EvidenceBytes)
		v.Recommend = "probe a larger file (--path), or have the server cap its records (OpenSSL -max_send_frag, nginx ssl_buffer_size)"
		return v
	}
	v.Kind = Fails
	var worst *group
	for _, g := range groups {
		if worst == nil || g.worst.LargestReceived-g.worstBound > worst.worst.LargestReceived-worst.worstBound {
			worst = g
		}
	}
	switch {
	case worst != nil:
		v.Summary = fmt.Sprintf("%s: the server answers neither extension and sends records of up to %d B in %s, above the %d B bound of a %d-byte device limit",
			v.Kind, worst.worst.LargestReceived, worst.worst.Version, worst.worstBound, L)
		v.Recommend = "have the server cap its records (OpenSSL -max_send_frag, nginx ssl_buffer_size) or enable max_fragment_length on it"
	case len(lied) > 0:
		v.Summary = string(v.Kind) + ": the server agrees to small records and then sends larger ones"
	default:
		v.Summary = fmt.Sprintf("%s: no connection offering a limit of %d B or less succeeded", v.Kind, L)
	}
	return v
}

func failureText(f *Failure) string {
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

// FailureText describes f in a sentence for people.
func FailureText(f *Failure) string { return failureText(f) }

// Verdict is Judge(r, deviceLimit).
func (r *Report) Verdict(deviceLimit int) Verdict { return Judge(r, deviceLimit) }
