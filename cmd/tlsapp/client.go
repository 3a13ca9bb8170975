package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tlsapp/tlsapp/credstore"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
	"github.com/tlsapp/tlsapp/trust"
)

// clientFlags are the flags of the subcommands that connect to a server.
type clientFlags struct {
	mfl, rsl   int
	version    string
	ca         listFlag
	store      string
	tags       string
	cert, key  string
	serverName string
	timeout    time.Duration
	insecure   bool
}

func (f *clientFlags) register(fs *flag.FlagSet, limits bool) {
	if limits {
		fs.Var(limitFlag{&f.mfl, "max_fragment_length", validMFL}, "mfl", "offer max_fragment_length `N` (512, 1024, 2048 or 4096; 0: do not offer)")
		fs.Var(limitFlag{&f.rsl, "record_size_limit", validRSL}, "rsl", "offer record_size_limit `N` (64 to 16385; 0: do not offer)")
		fs.StringVar(&f.version, "tls", "", "TLS `VERSION` to use: 1.2 or 1.3 (default: either)")
	}
	fs.Var(&f.ca, "ca", "trust the CA certificates in `FILE` (PEM or DER; repeatable; default: the system pool)")
	alias(fs, "ca", "cacert")
	fs.StringVar(&f.store, "store", "", "trust the CAs of credential store `DIR` (see --tags)")
	fs.StringVar(&f.tags, "tags", "", "security `TAGS` of the store to trust, comma-separated (default: all CA tags)")
	fs.StringVar(&f.cert, "cert", "", "client certificate `FILE` for mutual TLS (PEM)")
	fs.StringVar(&f.key, "key", "", "client private key `FILE` for mutual TLS (PEM)")
	fs.StringVar(&f.serverName, "servername", "", "`NAME` the server certificate must carry (default: the host)")
	if f.timeout == 0 {
		f.timeout = 30 * time.Second
	}
	fs.Var(durationFlag{&f.timeout}, "timeout", "bound on each dial and handshake, a `DURATION` or a number of seconds")
	alias(fs, "timeout", "connect-timeout")
}

// limitFlag is an --mfl or --rsl value, checked as it is parsed so that a
// bad one is a usage error before anything is dialled.
type limitFlag struct {
	v     *int
	name  string
	valid func(int) bool
}

func (l limitFlag) String() string {
	if l.v == nil {
		return "0"
	}
	return strconv.Itoa(*l.v)
}

func (l limitFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || (n != 0 && !l.valid(n)) {
		return fmt.Errorf("%q is not a %s this client can offer", s, l.name)
	}
	*l.v = n
	return nil
}

func validMFL(n int) bool { _, err := recordlimit.MaxFragmentCodeFor(n); return err == nil }
func validRSL(n int) bool { return recordlimit.Offer{RecordSizeLimit: n}.Validate() == nil }

// parseVersion turns "1.2" or "1.3" into a crypto/tls version ("" is 0).
func parseVersion(s string) (uint16, error) {
	switch s {
	case "":
		return 0, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, usagef("--tls must be 1.2 or 1.3, not %q", s)
}

// parseTags parses a comma-separated list of security tags.
func parseTags(s string) ([]uint32, error) {
	var tags []uint32
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, usagef("bad security tag %q", f)
		}
		tags = append(tags, uint32(n))
	}
	return tags, nil
}

// config builds the client Config the flags describe.
func (f *clientFlags) config(ctx context.Context) (*tlsapp.Config, error) {
	cfg := &tlsapp.Config{
		ServerName:         f.serverName,
		MaxFragmentLength:  f.mfl,
		RecordSizeLimit:    f.rsl,
		InsecureSkipVerify: f.insecure,
	}
	v, err := parseVersion(f.version)
	if err != nil {
		return nil, err
	}
	cfg.MinVersion, cfg.MaxVersion = v, v
	if (f.cert == "") != (f.key == "") {
		return nil, usagef("--cert and --key go together")
	}
	if f.cert != "" {
		c, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, &clientCertError{err}
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	if f.store == "" && f.tags != "" {
		return nil, usagef("--tags needs --store")
	}
	if f.insecure {
		// Nothing verifies: the anchors are only reported on.
		return cfg, nil
	}
	anchors, err := f.fileAnchors()
	if err != nil {
		return nil, err
	}
	switch {
	case f.store != "":
		sv, err := storeVerifier(ctx, f.store, f.tags)
		if err != nil {
			return nil, &caFileError{err}
		}
		if len(anchors) > 0 {
			cfg.Verifier = validityVerifier{multiVerifier{sv, anchors}}
		} else {
			cfg.Verifier = validityVerifier{sv}
		}
	case len(anchors) > 0:
		cfg.Verifier = validityVerifier{anchors}
	}
	return cfg, nil
}

// validityVerifier names the certificates that make a verification fail
// for being outside their validity period: x509 only says that one "has
// expired or is not yet valid" and gives the bound that was crossed, not
// which certificate it was.
type validityVerifier struct{ trust.Verifier }

func (v validityVerifier) Verify(ctx context.Context, serverName string, chain []*x509.Certificate, now time.Time) ([]trust.Anchor, error) {
	anchors, err := v.Verifier.Verify(ctx, serverName, chain, now)
	if err != nil {
		return nil, explainValidity(err, now)
	}
	return anchors, nil
}

// explainValidity adds a *credstore.ValidityError for every certificate an
// x509.CertificateInvalidError in err's tree refused for its validity
// period.
func explainValidity(err error, now time.Time) error {
	var why []error
	seen := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		switch e := e.(type) {
		case nil:
			return
		case x509.CertificateInvalidError:
			if e.Reason == x509.Expired && e.Cert != nil && !seen[string(e.Cert.Raw)] {
				seen[string(e.Cert.Raw)] = true
				if verr := credstore.CheckValidity(e.Cert.Raw, now); verr != nil {
					why = append(why, verr)
				}
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		case interface{ Unwrap() []error }:
			for _, u := range e.Unwrap() {
				walk(u)
			}
		}
	}
	walk(err)
	if len(why) == 0 {
		return err
	}
	return &listError{msg: err.Error(), sep: "; ", errs: append([]error{err}, why...), skip: 1}
}

// listError is an error made of several, shown one after the other and
// all found by errors.Is and errors.As.
type listError struct {
	msg  string  // said first
	sep  string  // between msg and the others
	errs []error // the errors; their messages follow msg from errs[skip] on
	skip int
}

func (e *listError) Error() string {
	var parts []string
	for _, err := range e.errs[e.skip:] {
		parts = append(parts, strings.TrimPrefix(err.Error(), "credstore: "))
	}
	if len(parts) == 0 {
		return e.msg
	}
	return e.msg + e.sep + strings.Join(parts, "; ")
}

func (e *listError) Unwrap() []error { return e.errs }

// fileAnchors loads the --ca files.
func (f *clientFlags) fileAnchors() (anchorSet, error) {
	var set anchorSet
	for _, path := range f.ca {
		certs, err := loadCerts(path)
		if err != nil {
			return nil, &caFileError{err}
		}
		for _, c := range certs {
			set = append(set, namedAnchor{Source: path, Cert: c})
		}
	}
	return set, nil
}

// namedAnchor is a trust anchor and where it came from.
type namedAnchor struct {
	Source string // a file name, or "store tag N"
	Tag    trust.Tag
	Cert   *x509.Certificate
}

// anchorSet is a trust.Verifier over anchors given on the command line. It
// checks the chain against each anchor on its own, so that it can say which
// anchors verify the server and which do not.
type anchorSet []namedAnchor

// check verifies chain against a single anchor.
func (a namedAnchor) check(serverName string, chain []*x509.Certificate, now time.Time) error {
	if len(chain) == 0 {
		return fmt.Errorf("the server sent no certificate")
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.Cert)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		CurrentTime:   now,
		DNSName:       serverName,
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

func (s anchorSet) Verify(_ context.Context, serverName string, chain []*x509.Certificate, now time.Time) ([]trust.Anchor, error) {
	var ok []trust.Anchor
	var why []error
	seen := map[[32]byte]bool{}
	for _, a := range s {
		if err := a.check(serverName, chain, now); err != nil {
			why = append(why, fmt.Errorf("%s (%s): %w", a.Source, a.Cert.Subject, err))
			continue
		}
		an := trust.AnchorOf(a.Tag, a.Cert)
		if !seen[an.SHA256] {
			seen[an.SHA256] = true
			ok = append(ok, an)
		}
	}
	if len(ok) == 0 {
		return nil, &listError{msg: fmt.Sprintf("no trust anchor verifies the server as %q", serverName), sep: ": ", errs: why}
	}
	return ok, nil
}

// multiVerifier accepts a chain that any of its verifiers accepts and
// reports the anchors of all of them.
type multiVerifier []trust.Verifier

func (m multiVerifier) Verify(ctx context.Context, serverName string, chain []*x509.Certificate, now time.Time) ([]trust.Anchor, error) {
	var all []trust.Anchor
	var why []error
	for _, v := range m {
		a, err := v.Verify(ctx, serverName, chain, now)
		if err != nil {
			why = append(why, err)
			continue
		}
		all = append(all, a...)
	}
	if len(all) == 0 {
		return nil, &listError{msg: why[0].Error(), sep: "; ", errs: why, skip: 1}
	}
	return all, nil
}

// recordReport is a RecordState for people and JSON.
type recordReport struct {
	Version                  string         `json:"version"`
	CipherSuite              string         `json:"cipher_suite"`
	Resumed                  bool           `json:"resumed"`
	OfferedMaxFragmentLength int            `json:"offered_max_fragment_length"`
	OfferedRecordSizeLimit   int            `json:"offered_record_size_limit"`
	Agreed                   string         `json:"agreed"`
	AgreedMaxFragmentLength  int            `json:"agreed_max_fragment_length,omitempty"`
	PeerRecordSizeLimit      int            `json:"peer_record_size_limit,omitempty"`
	SendLimit                int            `json:"send_limit"`
	ReceiveLimit             int            `json:"receive_limit"`
	LargestSent              int            `json:"largest_record_sent"`
	LargestReceived          int            `json:"largest_record_received"`
	RecordsSent              int64          `json:"records_sent"`
	RecordsReceived          int64          `json:"records_received"`
	BytesSent                int64          `json:"bytes_sent"`
	BytesReceived            int64          `json:"bytes_received"`
	HandshakeBytesSent       int64          `json:"handshake_bytes_sent"`
	HandshakeBytesReceived   int64          `json:"handshake_bytes_received"`
	CloseNotify              bool           `json:"close_notify"`
	Anchors                  []anchorReport `json:"anchors"`
}

// anchorReport is a trust.Anchor for people and JSON.
type anchorReport struct {
	Tag     trust.Tag `json:"tag"`
	Subject string    `json:"subject"`
	SHA256  string    `json:"sha256"`
}

func (a anchorReport) String() string {
	s := fmt.Sprintf("%q sha256:%s", a.Subject, a.SHA256[:16])
	if a.Tag != 0 {
		s = fmt.Sprintf("tag %d: %s", a.Tag, s)
	}
	return s
}

func anchorsOf(as []trust.Anchor) []anchorReport {
	r := []anchorReport{}
	for _, a := range as {
		r = append(r, anchorReport{Tag: a.Tag, Subject: a.Subject, SHA256: hex.EncodeToString(a.SHA256[:])})
	}
	return r
}

func reportOf(rs tlsapp.RecordState) recordReport {
	return recordReport{
		Version:                  versionName(rs.Version),
		CipherSuite:              suiteName(rs.CipherSuite),
		Resumed:                  rs.Resumed,
		OfferedMaxFragmentLength: rs.OfferedMaxFragmentLength,
		OfferedRecordSizeLimit:   rs.OfferedRecordSizeLimit,
		Agreed:                   rs.Agreed.String(),
		AgreedMaxFragmentLength:  rs.AgreedMaxFragmentLength,
		PeerRecordSizeLimit:      rs.PeerRecordSizeLimit,
		SendLimit:                rs.SendLimit,
		ReceiveLimit:             rs.ReceiveLimit,
		LargestSent:              rs.LargestSent,
		LargestReceived:          rs.LargestReceived,
		RecordsSent:              rs.RecordsSent,
		RecordsReceived:          rs.RecordsReceived,
		BytesSent:                rs.BytesSent,
		BytesReceived:            rs.BytesReceived,
		HandshakeBytesSent:       rs.HandshakeBytesSent,
		HandshakeBytesReceived:   rs.HandshakeBytesReceived,
		CloseNotify:              rs.CloseNotify,
		Anchors:                  anchorsOf(rs.Anchors),
	}
}

func versionName(v uint16) string {
	switch v {
	case 0:
		return "-"
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS13:
		return "TLS 1.3"
	}
	return tls.VersionName(v)
}

func suiteName(s uint16) string {
	if s == 0 {
		return "-"
	}
	return tls.CipherSuiteName(s)
}

// offerString describes what a connection offered.
func offerString(mfl, rsl int) string {
	var parts []string
	if mfl != 0 {
		parts = append(parts, fmt.Sprintf("max_fragment_length %d", mfl))
	}
	if rsl != 0 {
		parts = append(parts, fmt.Sprintf("record_size_limit %d", rsl))
	}
	if len(parts) == 0 {
		return "nothing (no record-size extension)"
	}
	return strings.Join(parts, " and ")
}

// agreedString describes what the server answered.
func agreedString(r recordReport) string {
	switch r.Agreed {
	case "max_fragment_length":
		return fmt.Sprintf("max_fragment_length %d (server echoed it)", r.AgreedMaxFragmentLength)
	case "record_size_limit":
		return fmt.Sprintf("record_size_limit (server's own limit %d)", r.PeerRecordSizeLimit)
	}
	if r.OfferedMaxFragmentLength == 0 && r.OfferedRecordSizeLimit == 0 {
		return "none (nothing offered)"
	}
	return "none (the server answered neither extension)"
}

// byteSize formats n bytes for people.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 10<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// rate formats a throughput.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	bps := float64(n) / d.Seconds()
	switch {
	case bps >= 1<<20:
		return fmt.Sprintf("%.1f MiB/s", bps/(1<<20))
	case bps >= 1<<10:
		return fmt.Sprintf("%.1f KiB/s", bps/(1<<10))
	}
	return fmt.Sprintf("%.0f B/s", bps)
}
