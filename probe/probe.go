package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// Versions and Sizes are what Run tries.
var (
	Versions = []uint16{tls.VersionTLS12, tls.VersionTLS13}
	Sizes    = []int{512, 1024, 2048, 4096}
)

// The extensions a case offers.
const (
	ExtMaxFragmentLength = "max_fragment_length"
	ExtRecordSizeLimit   = "record_size_limit"
)

// Connection results.
const (
	ResultOK        = "ok"         // a plain connection (nothing offered) completed
	ResultAgreed    = "agreed"     // the server answered the extension offered
	ResultIgnored   = "ignored"    // the server answered neither extension
	ResultViolated  = "violated"   // the server agreed and then sent a larger record
	ResultBadAnswer = "bad answer" // the server's answer breaks the extension's RFC
	ResultFailed    = "failed"     // the handshake failed
	ResultSkipped   = "skipped"    // the server does not do this version
)

// Options say what to probe and how.
type Options struct {
	// Addr is the server's HOST:PORT; Host, the HTTP Host header (default:
	// the host of Addr); Path, the path of each GET (default "/").
	Addr, Host, Path string
	// Config is the base client configuration (trust, server name, client
	// certificate); Run sets the versions and record-size fields of each
	// connection itself.
	Config tlsapp.Config
	// ReadMax bounds the bytes read of each answer (default 256 KiB),
	// ReadTime the time (default 2 s), Timeout each dial and handshake
	// (default 10 s).
	ReadMax  int64
	ReadTime time.Duration
	Timeout  time.Duration
	// Parallel is how many record-size cases run at once (default 4).
	Parallel int
	// DeviceLimit, when set, is the largest record content a device takes
	// (64 to 16384): Run then also measures the Range chunk for a device
	// that keeps its own TLS (MeasureRange), into Report.Range.
	DeviceLimit int
	// Observe is how much of the resource MeasureRange reads in sequence
	// (default EvidenceBytes).
	Observe int64
	// DialTransport, when set, dials each connection's transport in place
	// of a net.Dialer (tlsapp.Dialer.DialTransport), given a label naming
	// the connection, such as "TLS 1.3 record_size_limit 2048" or "range":
	// for a wire trace of each. Connections may be dialled concurrently.
	DialTransport func(ctx context.Context, conn, network, addr string) (net.Conn, error)
	// Header holds header fields sent with every request (a bearer token,
	// a device ID), as download.Options.Header: the fields a probe sets
	// itself (Host, Range, Connection, ...) are refused
	// (download.CheckHeader). A User-Agent here replaces the probe's.
	Header http.Header

	header string // the request lines Header and the User-Agent make
}

// ParseTarget accepts HOST:PORT or https://HOST[:PORT][/PATH] and returns
// the address to dial, the host name and the path ("" when the target has
// none).
func ParseTarget(s string) (addr, host, path string, err error) {
	if u, perr := url.Parse(s); perr == nil && u.Scheme != "" && u.Host != "" {
		if u.Scheme != "https" {
			return "", "", "", fmt.Errorf("probe: %q: only https URLs", s)
		}
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = "443"
		}
		return net.JoinHostPort(host, port), host, u.RequestURI(), nil
	}
	host, _, err = net.SplitHostPort(s)
	if err != nil {
		return "", "", "", fmt.Errorf("probe: %q is neither HOST:PORT nor an https URL: %w", s, err)
	}
	return s, host, "", nil
}

// Report is what Run found. Its JSON form is the probe's machine-readable
// output.
type Report struct {
	Target     string `json:"target"`
	ServerName string `json:"server_name"`
	Path       string `json:"path"`
	Insecure   bool   `json:"insecure"`
	// Versions holds one plain connection per version.
	Versions []Connection `json:"versions"`
	// Chain is the server's certificate chain as sent.
	Chain      []Cert `json:"chain,omitempty"`
	ChainBytes int    `json:"chain_bytes,omitempty"`
	// CertCompression is what the TLS 1.3 handshake showed.
	CertCompression *Compression `json:"certificate_compression,omitempty"`
	// Cases holds one connection per version, extension and size.
	Cases []Connection `json:"cases,omitempty"`
	// Failure is why no connection could be made at all.
	Failure *Failure `json:"failure,omitempty"`
	// Range is the Range chunk measured for Options.DeviceLimit, or
	// RangeError why none was found.
	Range      *RangeResult `json:"range,omitempty"`
	RangeError string       `json:"range_error,omitempty"`
	// Certificates is the chain for further checks (not in JSON).
	Certificates []*x509.Certificate `json:"-"`
}

// Cert describes a certificate of the chain.
type Cert struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	Bytes    int       `json:"bytes"`
	Key      string    `json:"key"`
	NotAfter time.Time `json:"not_after"`
}

// Compression is the RFC 8879 certificate compression the TLS 1.3
// handshake showed. Algorithm comes from tlsapp.RecordState (the server's
// CompressedCertificate); the byte counts compare the same handshake with
// and without compression offered.
type Compression struct {
	Algorithm                  string `json:"algorithm"` // zstd, brotli, zlib, or none
	HandshakeBytesReceived     int64  `json:"handshake_bytes_received"`
	HandshakeBytesUncompressed int64  `json:"handshake_bytes_received_not_offered,omitempty"`
}

// Largest is the largest record length per content type (as the record
// header says it), per direction.
type Largest struct {
	Sent     map[string]int `json:"sent"`
	Received map[string]int `json:"received"`
}

// Connection is one probe connection.
type Connection struct {
	Version     string `json:"version"` // "TLS 1.2", "TLS 1.3"
	VersionCode uint16 `json:"version_code"`
	Suite       string `json:"cipher_suite,omitempty"`
	SuiteCode   uint16 `json:"cipher_suite_code,omitempty"`
	// Extension and Limit are what the connection offered ("" and 0:
	// nothing); AgreedValue is the server's answer.
	Extension   string `json:"extension,omitempty"`
	Limit       int    `json:"limit,omitempty"`
	Result      string `json:"result"`
	AgreedValue int    `json:"agreed_value,omitempty"`
	// Bound is the longest record that respects Limit in this version and
	// suite (0 with nothing offered).
	Bound                  int   `json:"bound,omitempty"`
	HandshakeBytesSent     int64 `json:"handshake_bytes_sent,omitempty"`
	HandshakeBytesReceived int64 `json:"handshake_bytes_received,omitempty"`
	LargestReceived        int   `json:"largest_record_received"`
	// ViolatingType is the content type of the record that broke an
	// agreement (Result "violated"), as its header said.
	ViolatingType string `json:"violating_record_type,omitempty"`
	// LargestProtected and LargestPlaintext split LargestReceived: the
	// largest protected record, and the largest unprotected one (the
	// hellos, and a TLS 1.2 Certificate, which record_size_limit does not
	// bound (RFC 8449) but a device's buffer does).
	LargestProtected int `json:"largest_protected_record_received"`
	LargestPlaintext int `json:"largest_plaintext_record_received"`
	// Largest is per direction and content type.
	Largest Largest `json:"largest_record"`
	// ResponseBytes is the application data read; HeaderBytes and
	// BodyBytes split it at the end of the HTTP header, Status is the
	// HTTP status.
	ResponseBytes int64 `json:"response_bytes"`
	HeaderBytes   int   `json:"header_bytes,omitempty"`
	BodyBytes     int64 `json:"body_bytes"`
	Status        int   `json:"http_status,omitempty"`
	// FirstResponse is the length of each application data record the
	// server sent after the request, up to MaxLayout records.
	FirstResponse []int `json:"first_response_records,omitempty"`
	// CertCompression is the algorithm of the server's compressed
	// Certificate (TLS 1.3), empty when it sent it uncompressed.
	CertCompression string      `json:"certificate_compression,omitempty"`
	Resumption      *Resumption `json:"resumption,omitempty"`
	VerifiedBy      []string    `json:"verified_by,omitempty"`
	Error           string      `json:"error,omitempty"`
	Failure         *Failure    `json:"failure,omitempty"`
}

// Resumption is the second plain connection, which offers the session of
// the first.
type Resumption struct {
	Resumed                bool     `json:"resumed"`
	HandshakeBytesSent     int64    `json:"handshake_bytes_sent"`
	HandshakeBytesReceived int64    `json:"handshake_bytes_received"`
	Failure                *Failure `json:"failure,omitempty"`
}

// MaxLayout bounds Connection.FirstResponse.
const MaxLayout = 16

// defaults checks o and fills in what it leaves out.
func (o *Options) defaults() error {
	if o.Addr == "" {
		return errors.New("probe: no address")
	}
	if o.DeviceLimit != 0 && (o.DeviceLimit < recordlimit.MinRecordSizeLimit || o.DeviceLimit > recordlimit.MaxPlaintext) {
		return fmt.Errorf("probe: device limit %d is outside %d..%d", o.DeviceLimit, recordlimit.MinRecordSizeLimit, recordlimit.MaxPlaintext)
	}
	if o.Host == "" {
		h, _, err := net.SplitHostPort(o.Addr)
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		o.Host = h
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.ReadMax <= 0 {
		o.ReadMax = 256 << 10
	}
	if o.ReadTime <= 0 {
		o.ReadTime = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Config.ServerName == "" {
		o.Config.ServerName = o.Host
	}
	if err := download.CheckHeader(o.Header); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	var b strings.Builder
	if o.Header.Get("User-Agent") == "" {
		b.WriteString("User-Agent: tlsapp-probe\r\n")
	}
	o.Header.Write(&b) // sorted; CheckHeader refused line breaks
	o.header = b.String()
	return nil
}

// Run probes the server o.Addr. It fails only for bad Options; what went
// wrong on the wire is in the Report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	r := &Report{Target: o.Addr, ServerName: o.Config.ServerName, Path: o.Path, Insecure: o.Config.InsecureSkipVerify}
	supported := map[uint16]bool{}
	for _, v := range Versions {
		c, certs := o.plain(ctx, v)
		r.Versions = append(r.Versions, c)
		supported[v] = c.Failure == nil
		if c.Failure == nil && r.Certificates == nil {
			r.Certificates = certs
			for _, c := range certs {
				r.Chain = append(r.Chain, Cert{Subject: c.Subject.String(), Issuer: c.Issuer.String(),
					Bytes: len(c.Raw), Key: keyName(c), NotAfter: c.NotAfter.UTC()})
				r.ChainBytes += len(c.Raw)
			}
		}
	}
	if !supported[tls.VersionTLS12] && !supported[tls.VersionTLS13] {
		// The most telling cause: a certificate problem over a refused version.
		for _, c := range r.Versions {
			if r.Failure == nil || c.Failure.Verification() {
				r.Failure = c.Failure
			}
		}
		return r, nil
	}
	if supported[tls.VersionTLS13] {
		r.CertCompression = o.compression(ctx, r.Versions)
	}
	for _, v := range Versions {
		for _, ext := range []string{ExtMaxFragmentLength, ExtRecordSizeLimit} {
			for _, n := range Sizes {
				c := Connection{Version: versionName(v), VersionCode: v, Extension: ext, Limit: n}
				if !supported[v] {
					c.Result = ResultSkipped
					c.Error = "the server does not do " + versionName(v)
				}
				r.Cases = append(r.Cases, c)
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.Parallel)
	for i := range r.Cases {
		if r.Cases[i].Result == ResultSkipped {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			o.limitCase(ctx, &r.Cases[i])
		}()
	}
	wg.Wait()
	if o.DeviceLimit > 0 {
		res, err := MeasureRange(ctx, o)
		r.Range = res
		if err != nil {
			r.RangeError = err.Error()
		}
	}
	return r, nil
}

func (o *Options) config(v uint16) *tlsapp.Config {
	cfg := o.Config
	cfg.MinVersion, cfg.MaxVersion = v, v
	cfg.MaxFragmentLength, cfg.RecordSizeLimit = 0, 0
	// The cases measure what the server sends: nothing may end them early
	// the way a device would.
	cfg.DeviceLimit, cfg.MaxReceivedRecord = 0, 0
	return &cfg
}

// attempt is one connection's raw outcome.
type attempt struct {
	rs     tlsapp.RecordState
	certs  []*x509.Certificate
	err    error // handshake error, or a read error other than a timeout
	hsErr  bool
	read   int64
	header int
	status int
	trace  recordTrace
}

// recordTrace keeps the largest record per direction and type, the largest
// plaintext record received and the layout of the response, from
// Config.Trace.
type recordTrace struct {
	mu                   sync.Mutex
	largest              [2]map[string]int
	plaintext, protected int
	requested            bool
	layout               []int
}

func (t *recordTrace) record(r tlsapp.TraceRecord) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := int(r.Direction)
	if t.largest[d] == nil {
		t.largest[d] = map[string]int{}
	}
	if k := r.Type.String(); r.Len > t.largest[d][k] {
		t.largest[d][k] = r.Len
	}
	switch {
	case r.Direction != tlsapp.Received:
	case r.Epoch == tlsapp.EpochPlaintext:
		t.plaintext = max(t.plaintext, r.Len)
	default:
		t.protected = max(t.protected, r.Len)
	}
	if t.requested && r.Direction == tlsapp.Received && r.Epoch == tlsapp.EpochApplication &&
		r.Type == recordlimit.TypeApplicationData && len(t.layout) < MaxLayout {
		t.layout = append(t.layout, r.Len)
	}
}

func (t *recordTrace) markRequested() {
	t.mu.Lock()
	t.requested = true
	t.mu.Unlock()
}

// connect dials with cfg, sends a GET for path and reads the answer for a
// bounded time and amount.
func (o *Options) connect(ctx context.Context, label string, cfg *tlsapp.Config, path string) *attempt {
	a := &attempt{}
	next := cfg.Trace
	cfg.Trace = func(r tlsapp.TraceRecord) {
		a.trace.record(r)
		if next != nil {
			next(r)
		}
	}
	hctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	raw, err := o.dial(hctx, label)
	if err != nil {
		a.err, a.hsErr = err, true
		return a
	}
	// tlsapp.Client rather than a Dialer: what the record layer learned
	// is kept when the handshake fails (an agreement broken by a
	// handshake record).
	c := tlsapp.Client(raw, cfg)
	if err := c.HandshakeContext(hctx); err != nil {
		a.err, a.hsErr = err, true
		a.rs = c.RecordState()
		c.Close()
		return a
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(o.ReadTime))
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n", path, o.Host, o.header)
	a.trace.markRequested()
	if _, err := io.WriteString(c, req); err != nil {
		a.err = err
	} else {
		hw := &headerWatch{}
		a.read, err = io.Copy(hw, io.LimitReader(c, o.ReadMax))
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			a.err = err
		}
		a.header, a.status = hw.end, hw.status
	}
	a.rs = c.RecordState()
	a.certs = c.ConnectionState().PeerCertificates
	return a
}

// dial dials the transport of the connection named label.
func (o *Options) dial(ctx context.Context, label string) (net.Conn, error) {
	if o.DialTransport != nil {
		return o.DialTransport(ctx, label, "tcp", o.Addr)
	}
	return new(net.Dialer).DialContext(ctx, "tcp", o.Addr)
}

// headerWatch finds the end of the HTTP response header in the stream
// written to it, keeping at most maxHeader bytes.
type headerWatch struct {
	buf    []byte
	end    int // header length including the blank line, once found
	status int
}

const maxHeader = 16 << 10

func (h *headerWatch) Write(p []byte) (int, error) {
	if h.end > 0 || len(h.buf) >= maxHeader {
		return len(p), nil
	}
	h.buf = append(h.buf, p[:min(len(p), maxHeader-len(h.buf))]...)
	if i := bytes.Index(h.buf, []byte("\r\n\r\n")); i >= 0 {
		h.end = i + 4
		// "HTTP/1.1 206 Partial Content"
		if f := bytes.Fields(h.buf[:bytes.IndexByte(h.buf, '\n')]); len(f) >= 2 {
			h.status, _ = strconv.Atoi(string(f[1]))
		}
		h.buf = nil
	}
	return len(p), nil
}

// fill copies what every kind of connection reports.
func (a *attempt) fill(c *Connection) {
	rs := a.rs
	c.Suite, c.SuiteCode = suiteName(rs.CipherSuite), rs.CipherSuite
	if rs.Version != 0 {
		c.VersionCode, c.Version = rs.Version, versionName(rs.Version)
	}
	c.HandshakeBytesSent, c.HandshakeBytesReceived = rs.HandshakeBytesSent, rs.HandshakeBytesReceived
	c.LargestReceived = rs.LargestReceived
	a.trace.mu.Lock()
	c.Largest = Largest{Sent: a.trace.largest[tlsapp.Sent], Received: a.trace.largest[tlsapp.Received]}
	c.LargestPlaintext, c.LargestProtected = a.trace.plaintext, a.trace.protected
	c.FirstResponse = append([]int(nil), a.trace.layout...)
	a.trace.mu.Unlock()
	if c.Largest.Sent == nil {
		c.Largest.Sent = map[string]int{}
	}
	if c.Largest.Received == nil {
		c.Largest.Received = map[string]int{}
	}
	c.ResponseBytes, c.HeaderBytes, c.Status = a.read, a.header, a.status
	c.BodyBytes = max(0, a.read-int64(a.header))
	c.CertCompression = algorithmName(rs.CertCompression)
	for _, an := range rs.Anchors {
		c.VerifiedBy = append(c.VerifiedBy, an.Subject)
	}
	if a.err != nil {
		c.Error = a.err.Error()
		c.Failure = Classify(a.err)
	}
}

// plain connects in version v with nothing offered, then again to test
// resumption.
func (o *Options) plain(ctx context.Context, v uint16) (Connection, []*x509.Certificate) {
	c := Connection{Version: versionName(v), VersionCode: v}
	cfg := o.config(v)
	cfg.ClientSessionCache = tlsapp.NewSessionCache(4)
	a := o.connect(ctx, c.Version+" plain", cfg, o.Path)
	a.fill(&c)
	if a.hsErr {
		c.Result = ResultFailed
		return c, nil
	}
	c.Result = ResultOK
	b := o.connect(ctx, c.Version+" resumption", cfg, o.Path)
	c.Resumption = &Resumption{Resumed: b.rs.Resumed, HandshakeBytesSent: b.rs.HandshakeBytesSent,
		HandshakeBytesReceived: b.rs.HandshakeBytesReceived}
	if b.hsErr {
		c.Resumption.Failure = Classify(b.err)
	}
	return c, a.certs
}

// compression reports the algorithm the TLS 1.3 plain connection saw
// (tlsapp offers zstd and brotli by default) and, when it was compressed,
// the handshake size without compression offered.
func (o *Options) compression(ctx context.Context, versions []Connection) *Compression {
	var c13 *Connection
	for i := range versions {
		if versions[i].VersionCode == tls.VersionTLS13 {
			c13 = &versions[i]
		}
	}
	if c13 == nil || o.Config.DisableCertCompression {
		return nil
	}
	cc := &Compression{Algorithm: "none", HandshakeBytesReceived: c13.HandshakeBytesReceived}
	if c13.CertCompression == "" {
		return cc
	}
	cc.Algorithm = c13.CertCompression
	cfg := o.config(tls.VersionTLS13)
	cfg.DisableCertCompression = true
	if a := o.connect(ctx, "TLS 1.3 compression not offered", cfg, o.Path); !a.hsErr {
		cc.HandshakeBytesUncompressed = a.rs.HandshakeBytesReceived
	}
	return cc
}

// limitCase runs one record-size case.
func (o *Options) limitCase(ctx context.Context, c *Connection) {
	cfg := o.config(c.VersionCode)
	if c.Extension == ExtMaxFragmentLength {
		cfg.MaxFragmentLength = c.Limit
	} else {
		cfg.RecordSizeLimit = c.Limit
	}
	a := o.connect(ctx, fmt.Sprintf("%s %s %d", c.Version, c.Extension, c.Limit), cfg, o.Path)
	a.fill(c)
	c.Bound = caseBound(c.VersionCode, c.SuiteCode, c.Extension, c.Limit)
	var roe *recordlimit.RecordOverflowError
	if a.hsErr {
		c.Result = ResultFailed
		switch {
		case errors.Is(a.err, recordlimit.ErrNegotiation):
			c.Result = ResultBadAnswer
		case errors.As(a.err, &roe) && roe.Agreed:
			// The server agreed, then broke it in the handshake.
			c.Result, c.ViolatingType = ResultViolated, roe.Type.String()
			c.AgreedValue = a.rs.AgreedMaxFragmentLength
			if a.rs.Agreed == recordlimit.KindRSL {
				c.AgreedValue = a.rs.PeerRecordSizeLimit
			}
			c.LargestReceived = max(c.LargestReceived, roe.Len)
		}
		return
	}
	switch a.rs.Agreed {
	case recordlimit.KindMFL:
		c.Result, c.AgreedValue = ResultAgreed, a.rs.AgreedMaxFragmentLength
	case recordlimit.KindRSL:
		c.Result, c.AgreedValue = ResultAgreed, a.rs.PeerRecordSizeLimit
	default:
		c.Result = ResultIgnored
	}
	if errors.As(a.err, &roe) {
		c.Result, c.ViolatingType = ResultViolated, roe.Type.String()
		c.LargestReceived = max(c.LargestReceived, roe.Len)
		if c.LargestPlaintext != roe.Len {
			c.LargestProtected = max(c.LargestProtected, roe.Len)
		}
	}
}

// recordBound is the longest record on the wire that carries at most limit
// content bytes in the given version and cipher suite: TLS 1.3 adds the
// inner content-type byte and the tag, TLS 1.2 the explicit nonce (AES-GCM)
// and the tag.
func recordBound(version, suite uint16, limit int) int {
	exp := recordlimit.Expansion(version, suite)
	if version == tls.VersionTLS13 {
		return limit + 1 + exp
	}
	return limit + exp
}

// caseBound is the bound of a record-size case: in TLS 1.3 a
// record_size_limit counts the inner content-type byte.
func caseBound(version, suite uint16, ext string, limit int) int {
	b := recordBound(version, suite, limit)
	if ext == ExtRecordSizeLimit && version == tls.VersionTLS13 {
		b--
	}
	return b
}

func algorithmName(a uint16) string {
	switch a {
	case 0:
		return ""
	case 1:
		return "zlib"
	case 2:
		return "brotli"
	case 3:
		return "zstd"
	}
	return "algorithm(" + strconv.Itoa(int(a)) + ")"
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS13:
		return "TLS 1.3"
	}
	return tls.VersionName(v)
}

func suiteName(s uint16) string {
	if s == 0 {
		return ""
	}
	return tls.CipherSuiteName(s)
}
