package main

import (
	"encoding/base64"
	"fmt"
	"strconv"
)

// options are the shim's flags, as BoGo's runner passes them (see the
// table in flagTable), plus the tlsapp- flags of the harness's second and
// third passes.
type options struct {
	port          string
	shimID        uint64
	ipv6          bool
	server        bool
	writeSettings string // prefix of the file the harness reads (see record)

	certFile, keyFile string
	trustCert         string
	ocspResponse      []byte
	signingPrefs      []int
	verifyPrefs       []int

	minVersion, maxVersion int // 0: not given
	noTLS1, noTLS11        bool
	noTLS12, noTLS13       bool
	expectVersion          int

	resumeCount             int
	shimWritesFirst         bool
	onResumeShimWritesFirst bool
	readSize                int
	checkCloseNotify        bool

	curves      []int
	expectCurve int

	hostName         string
	expectServerName string

	verifyPeer        bool
	requireAnyCert    bool
	customVerify      bool
	reverifyOnResume  bool
	expectPeerVerify  []int
	expectPeerSigAlg  int
	expectSessionMiss bool
	expectHRR         bool
	expectNoHRR       bool

	advertiseALPN        string
	expectALPN           string
	selectALPN           string
	expectAdvertisedALPN string
	declineALPN          bool
	rejectALPN           bool

	echServerConfigs [][]byte
	echServerKeys    [][]byte
	echIsRetry       []bool
	expectECHAccept  bool

	maxSendFragment int

	// The harness's own flags: what the client offers on every connection;
	// a trace of its records on stderr (for debugging a test); and census,
	// which makes the shim record its side and stop at once, for the
	// harness's count of the tests the config disables.
	offerRecordSizeLimit   int
	offerMaxFragmentLength int
	trace                  bool
	census                 bool
}

// unimplementedError is a flag, or a combination of flags, that the shim
// cannot honour through tlsapp's API. The runner counts a shim that exits
// with status 89 as not implementing the test.
type unimplementedError struct{ reason string }

func (e *unimplementedError) Error() string { return "unimplemented: " + e.reason }

func unimplemented(format string, args ...any) error {
	return &unimplementedError{reason: fmt.Sprintf(format, args...)}
}

// flagSpec is one flag the shim knows: whether it takes a value, and how
// it sets options. A nil set means the flag is known and refused: reason
// says why tlsapp's API cannot honour it.
type flagSpec struct {
	value  bool
	set    func(o *options, v string) error
	reason string
}

func boolFlag(f func(o *options)) flagSpec {
	return flagSpec{set: func(o *options, _ string) error { f(o); return nil }}
}

func stringFlag(f func(o *options, v string)) flagSpec {
	return flagSpec{value: true, set: func(o *options, v string) error { f(o, v); return nil }}
}

func intFlag(f func(o *options, n int)) flagSpec {
	return flagSpec{value: true, set: func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		f(o, n)
		return nil
	}}
}

func base64Flag(f func(o *options, b []byte)) flagSpec {
	return flagSpec{value: true, set: func(o *options, v string) error {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return err
		}
		f(o, b)
		return nil
	}}
}

func refused(value bool, reason string) flagSpec { return flagSpec{value: value, reason: reason} }

// Reasons shared by several refused flags.
const (
	noEarlyData        = "0-RTT: tlsapp's client sends no early data and its server takes none (crypto/tls has no 0-RTT)"
	noClientECH        = "ECH on the client: tlsapp.Config has no Encrypted Client Hello"
	noServerVerifyPref = "-verify-prefs on a server that asks for a client certificate: crypto/tls's server (under tlsapp.Server) has no setting for the signature algorithms it lists in its CertificateRequest and accepts in the client's CertificateVerify"
)

// flagTable is every flag the shim knows.
var flagTable = map[string]flagSpec{
	"-port":           stringFlag(func(o *options, v string) { o.port = v }),
	"-shim-id":        {value: true, set: func(o *options, v string) (err error) { o.shimID, err = strconv.ParseUint(v, 10, 64); return }},
	"-ipv6":           boolFlag(func(o *options) { o.ipv6 = true }),
	"-server":         boolFlag(func(o *options) { o.server = true }),
	"-write-settings": stringFlag(func(o *options, v string) { o.writeSettings = v }),

	"-cert-file":     stringFlag(func(o *options, v string) { o.certFile = v }),
	"-key-file":      stringFlag(func(o *options, v string) { o.keyFile = v }),
	"-trust-cert":    stringFlag(func(o *options, v string) { o.trustCert = v }),
	"-ocsp-response": base64Flag(func(o *options, b []byte) { o.ocspResponse = b }),
	"-signing-prefs": intFlag(func(o *options, n int) { o.signingPrefs = append(o.signingPrefs, n) }),
	"-verify-prefs":  intFlag(func(o *options, n int) { o.verifyPrefs = append(o.verifyPrefs, n) }),

	"-min-version":    intFlag(func(o *options, n int) { o.minVersion = n }),
	"-max-version":    intFlag(func(o *options, n int) { o.maxVersion = n }),
	"-no-tls1":        boolFlag(func(o *options) { o.noTLS1 = true }),
	"-no-tls11":       boolFlag(func(o *options) { o.noTLS11 = true }),
	"-no-tls12":       boolFlag(func(o *options) { o.noTLS12 = true }),
	"-no-tls13":       boolFlag(func(o *options) { o.noTLS13 = true }),
	"-expect-version": intFlag(func(o *options, n int) { o.expectVersion = n }),

	"-resume-count":                intFlag(func(o *options, n int) { o.resumeCount = n }),
	"-shim-writes-first":           boolFlag(func(o *options) { o.shimWritesFirst = true }),
	"-on-resume-shim-writes-first": boolFlag(func(o *options) { o.onResumeShimWritesFirst = true }),
	"-read-size":                   intFlag(func(o *options, n int) { o.readSize = n }),
	"-check-close-notify":          boolFlag(func(o *options) { o.checkCloseNotify = true }),

	"-curves":          intFlag(func(o *options, n int) { o.curves = append(o.curves, n) }),
	"-expect-curve-id": intFlag(func(o *options, n int) { o.expectCurve = n }),

	"-host-name":          stringFlag(func(o *options, v string) { o.hostName = v }),
	"-expect-server-name": stringFlag(func(o *options, v string) { o.expectServerName = v }),

	"-verify-peer":                     boolFlag(func(o *options) { o.verifyPeer = true }),
	"-require-any-client-certificate":  boolFlag(func(o *options) { o.requireAnyCert = true }),
	"-use-custom-verify-callback":      boolFlag(func(o *options) { o.customVerify = true }),
	"-reverify-on-resume":              boolFlag(func(o *options) { o.reverifyOnResume = true }),
	"-expect-peer-verify-pref":         intFlag(func(o *options, n int) { o.expectPeerVerify = append(o.expectPeerVerify, n) }),
	"-expect-peer-signature-algorithm": intFlag(func(o *options, n int) { o.expectPeerSigAlg = n }),
	"-expect-session-miss":             boolFlag(func(o *options) { o.expectSessionMiss = true }),
	"-expect-hrr":                      boolFlag(func(o *options) { o.expectHRR = true }),
	"-expect-no-hrr":                   boolFlag(func(o *options) { o.expectNoHRR = true }),

	"-advertise-alpn":         stringFlag(func(o *options, v string) { o.advertiseALPN = v }),
	"-expect-alpn":            stringFlag(func(o *options, v string) { o.expectALPN = v }),
	"-select-alpn":            stringFlag(func(o *options, v string) { o.selectALPN = v }),
	"-expect-advertised-alpn": stringFlag(func(o *options, v string) { o.expectAdvertisedALPN = v }),
	"-decline-alpn":           boolFlag(func(o *options) { o.declineALPN = true }),
	"-reject-alpn":            boolFlag(func(o *options) { o.rejectALPN = true }),

	"-ech-server-config":   base64Flag(func(o *options, b []byte) { o.echServerConfigs = append(o.echServerConfigs, b) }),
	"-ech-server-key":      base64Flag(func(o *options, b []byte) { o.echServerKeys = append(o.echServerKeys, b) }),
	"-ech-is-retry-config": stringFlag(func(o *options, v string) { o.echIsRetry = append(o.echIsRetry, v == "1") }),
	"-expect-ech-accept":   boolFlag(func(o *options) { o.expectECHAccept = true }),

	"-max-send-fragment": intFlag(func(o *options, n int) { o.maxSendFragment = n }),

	"-tlsapp-record-size-limit":   intFlag(func(o *options, n int) { o.offerRecordSizeLimit = n }),
	"-tlsapp-max-fragment-length": intFlag(func(o *options, n int) { o.offerMaxFragmentLength = n }),
	"-tlsapp-trace":               boolFlag(func(o *options) { o.trace = true }),
	"-tlsapp-census":              boolFlag(func(o *options) { o.census = true }),

	// Known, and beyond what tlsapp's API can do.
	"-enable-early-data":                  refused(false, noEarlyData),
	"-expect-ticket-supports-early-data":  refused(false, noEarlyData),
	"-on-resume-expect-accept-early-data": refused(false, noEarlyData),
	"-on-resume-expect-reject-early-data": refused(false, noEarlyData),
	"-ech-config-list":                    refused(true, noClientECH),
	"-on-resume-ech-config-list":          refused(true, noClientECH),
	"-expect-ech-retry-configs":           refused(true, noClientECH),
	"-expect-no-ech-retry-configs":        refused(false, noClientECH),
	"-expect-ech-name-override":           refused(true, noClientECH),
	"-expect-no-ech-name-override":        refused(false, noClientECH),
	"-on-initial-expect-ech-accept":       refused(false, noClientECH),
	"-on-resume-expect-ech-accept":        refused(false, noClientECH),
}

// parseFlags reads args. An unknown flag, or one in the table that tlsapp
// cannot honour, is an *unimplementedError; a malformed value is another
// error.
func parseFlags(args []string) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		name := args[i]
		spec, ok := flagTable[name]
		if !ok {
			return o, unimplemented("flag %s", name)
		}
		var v string
		if spec.value {
			if i+1 == len(args) {
				return o, fmt.Errorf("flag %s needs a value", name)
			}
			i++
			v = args[i]
		}
		if spec.set == nil {
			return o, unimplemented("flag %s: %s", name, spec.reason)
		}
		if err := spec.set(o, v); err != nil {
			return o, fmt.Errorf("flag %s: %w", name, err)
		}
	}
	if o.port == "" {
		return o, fmt.Errorf("no -port")
	}
	return o, nil
}

// scanSide finds -server and -write-settings in args without parsing the
// rest, so that a shim that refuses its flags still says which side the
// test is for.
func scanSide(args []string) (server bool, settings string) {
	for i, a := range args {
		switch {
		case a == "-server":
			server = true
		case a == "-write-settings" && i+1 < len(args):
			settings = args[i+1]
		}
	}
	return server, settings
}

// alpnList decodes BoGo's ALPN flag value: protocols each preceded by a
// length byte.
func alpnList(s string) ([]string, error) {
	var out []string
	for len(s) > 0 {
		n := int(s[0])
		if n == 0 || 1+n > len(s) {
			return nil, fmt.Errorf("malformed ALPN list %q", s)
		}
		out = append(out, s[1:1+n])
		s = s[1+n:]
	}
	return out, nil
}
