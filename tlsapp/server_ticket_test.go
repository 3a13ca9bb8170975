package tlsapp

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/ticketkey"
)

// ticketKey is a key line of a key file, and its name.
type ticketKey struct{ line, name string }

func newTicketKey(t *testing.T) ticketKey {
	t.Helper()
	var b [ticketkey.KeyLen]byte
	rand.Read(b[:])
	return ticketKey{base64.StdEncoding.EncodeToString(b[:]), hex.EncodeToString(b[:ticketkey.NameLen])}
}

// writeTicketKeys replaces the key file at p by a rename, as a rotation
// does.
func writeTicketKeys(t *testing.T, p string, keys ...ticketKey) {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.line + "\n")
	}
	if err := os.WriteFile(p+".new", []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
}

// fleet is two listeners on 127.0.0.1, each with its own session cache and
// its own ring loaded from one key file, as two processes behind a load
// balancer would have, each behind an independent record relay.
type fleet struct {
	keyFile string
	rings   [2]*ticketkey.Ring
	relays  [2]*recordRelay
}

func startFleet(t *testing.T, cfg func() *tls.Config, opts ServerOptions, keys ...ticketKey) *fleet {
	t.Helper()
	f := &fleet{keyFile: filepath.Join(t.TempDir(), "ticket.keys")}
	writeTicketKeys(t, f.keyFile, keys...)
	for i := range f.rings {
		r, err := ticketkey.Load(f.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		f.rings[i] = r
		o := opts
		o.TicketKeys = r
		f.relays[i] = newRelay(t, startSessionServer(t, cfg(), o).addr)
	}
	return f
}

// rotate writes keys to the file and has both servers reload it.
func (f *fleet) rotate(t *testing.T, keys ...ticketKey) {
	t.Helper()
	writeTicketKeys(t, f.keyFile, keys...)
	for _, r := range f.rings {
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
	}
}

// visit is one connection of a client to a server of the fleet: what the
// server said, whether the client resumed, and the ticket its ClientHello
// offered (nil for none), as the relay saw them.
type visit struct {
	line    string
	resumed bool
	offered []byte
}

func (f *fleet) visit(t *testing.T, server int, cfg Config) visit {
	t.Helper()
	relay := f.relays[server]
	before := len(relay.clientHellos())
	c := dialTest(t, relay.Addr(), cfg)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	v := visit{line: line, resumed: c.ConnectionState().DidResume}
	if v.resumed != c.RecordState().Resumed || v.resumed != strings.HasPrefix(line, "resumed=true") {
		t.Errorf("client DidResume %v, RecordState.Resumed %v, server said %q", v.resumed, c.RecordState().Resumed, line)
	}
	c.Close()
	hellos := relay.clientHellos()
	if len(hellos) != before+1 {
		t.Fatalf("relay saw %d new connections", len(hellos)-before)
	}
	v.offered = offeredTicket(t, hellos[before])
	return v
}

// checkRecords fails the test if a server record on either relay is above
// what a cap of n content bytes allows in version v.
func (f *fleet) checkRecords(t *testing.T, v uint16, n int) {
	t.Helper()
	bound := serverRecordBound(v, n)
	for i, relay := range f.relays {
		for j, r := range relay.records(1) {
			if r.Len > bound {
				t.Errorf("server %d record %d (type %d) is %d bytes, the cap allows %d", i, j, r.Type, r.Len, bound)
			}
		}
	}
}

// offeredTicket returns the ticket a ClientHello record offers: the first
// PSK identity (TLS 1.3) or the session_ticket extension's content (TLS
// 1.2), nil for none. It parses the record itself, as a witness.
func offeredTicket(t *testing.T, rec []byte) []byte {
	t.Helper()
	s := cryptobyte.String(rec[5:])
	var typ uint8
	var body, sid, suites, comp, exts cryptobyte.String
	if !s.ReadUint8(&typ) || typ != 1 || !s.ReadUint24LengthPrefixed(&body) ||
		!body.Skip(2+32) || !body.ReadUint8LengthPrefixed(&sid) || !body.ReadUint16LengthPrefixed(&suites) ||
		!body.ReadUint8LengthPrefixed(&comp) || !body.ReadUint16LengthPrefixed(&exts) {
		t.Fatalf("not a whole ClientHello in the client's first record (%d bytes)", len(rec))
	}
	var ticket []byte
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			t.Fatal("malformed extensions")
		}
		switch typ {
		case 35: // session_ticket
			if len(data) > 0 && ticket == nil {
				ticket = data
			}
		case 41: // pre_shared_key
			var ids, id cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&ids) || !ids.ReadUint16LengthPrefixed(&id) {
				t.Fatal("malformed pre_shared_key")
			}
			return id
		}
	}
	return ticket
}

// sealedBy fails the test unless ticket is a sealed ticket (not a cache
// name) under the key named name.
func sealedBy(t *testing.T, what string, ticket []byte, k ticketKey) {
	t.Helper()
	if len(ticket) < ticketkey.Overhead || hex.EncodeToString(ticket[:ticketkey.NameLen]) != k.name {
		t.Errorf("%s: offered a %d-byte ticket, not one sealed under key %s", what, len(ticket), k.name[:8])
	}
}

// TestServerTicketsAcrossServers is item 5 of issue 16 in process: two
// listeners sharing a key file resume each other's sessions, in TLS 1.2 and
// 1.3, with the tickets sealed under the file's first key, and every server
// record within the cap on independent relays: with no cap, at
// max_fragment_length 512 and MaxRecord 512, and in TLS 1.2 at the
// smallest cap, 64, where the guard splits the ticket message (TLS 1.3's
// would not fit: see TestServerTicketCapBoundary).
func TestServerTicketsAcrossServers(t *testing.T) {
	leakCheck(t)
	k := newTicketKey(t)
	tests := []struct {
		name     string
		versions []uint16
		opts     ServerOptions
		mfl      int
		cap      int
	}{
		{"no cap", []uint16{tls.VersionTLS12, tls.VersionTLS13}, ServerOptions{}, 0, 16384},
		{"mfl 512 max-record 512", []uint16{tls.VersionTLS12, tls.VersionTLS13}, ServerOptions{MaxRecord: 512}, 512, 512},
		{"max-record 64", []uint16{tls.VersionTLS12}, ServerOptions{MaxRecord: 64}, 0, 64},
	}
	for _, tt := range tests {
		for _, v := range tt.versions {
			t.Run(tt.name+"/"+versionName(v), func(t *testing.T) {
				f := startFleet(t, func() *tls.Config { return &tls.Config{MinVersion: v, MaxVersion: v} }, tt.opts, k)
				cfg := Config{MinVersion: v, MaxVersion: v, ClientSessionCache: NewSessionCache(4), MaxFragmentLength: tt.mfl}
				for i, server := range []int{0, 1, 0, 1} {
					got := f.visit(t, server, cfg)
					if got.resumed != (i > 0) {
						t.Errorf("connection %d to server %d: resumed %v (server said %q)", i, server, got.resumed, got.line)
					}
					if i > 0 {
						sealedBy(t, "connection "+string(rune('0'+i)), got.offered, k)
					}
				}
				f.checkRecords(t, v, tt.cap)
			})
		}
	}
}

// TestServerTicketRotation checks resumption across two rotations of the
// key file, on both servers: a ticket sealed under the previous key still
// resumes (and the new ticket is sealed under the new key); a ticket sealed
// under a key dropped from the file makes a full handshake, not an error.
func TestServerTicketRotation(t *testing.T) {
	leakCheck(t)
	k1, k2, k3 := newTicketKey(t), newTicketKey(t), newTicketKey(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			f := startFleet(t, func() *tls.Config { return &tls.Config{MinVersion: v, MaxVersion: v} }, ServerOptions{MaxRecord: 512}, k1)
			client := func() Config {
				return Config{MinVersion: v, MaxVersion: v, ClientSessionCache: NewSessionCache(4), MaxFragmentLength: 512}
			}
			kept, dropped := client(), client()
			f.visit(t, 0, kept)
			f.visit(t, 0, dropped) // both hold a ticket under k1

			f.rotate(t, k2, k1)
			got := f.visit(t, 1, kept)
			sealedBy(t, "after the first rotation", got.offered, k1)
			if !got.resumed {
				t.Errorf("a ticket under the previous key did not resume after the rotation (server said %q)", got.line)
			}
			got = f.visit(t, 0, kept)
			sealedBy(t, "the ticket issued after the rotation", got.offered, k2)
			if !got.resumed {
				t.Errorf("a ticket under the new key did not resume (server said %q)", got.line)
			}

			f.rotate(t, k3, k2)
			got = f.visit(t, 1, dropped)
			sealedBy(t, "the ticket under the dropped key", got.offered, k1)
			if got.resumed {
				t.Error("a ticket under a key dropped from the file resumed")
			}
			got = f.visit(t, 0, kept)
			sealedBy(t, "after the second rotation", got.offered, k2)
			if !got.resumed {
				t.Errorf("a ticket under the previous key did not resume after the second rotation (server said %q)", got.line)
			}
			f.checkRecords(t, v, 512)
		})
	}
}

// TestServerTicketCapBoundary: a TLS 1.3 ticket goes in one record the guard
// cannot re-encrypt, so a sealed ticket is sent only when its message fits
// the cap. At a cap of exactly the message's length the other server
// resumes the session; one byte below, the ticket is a name in this
// server's cache: the other server makes a full handshake and this one
// resumes. Every record stays within the cap on the relays either way. The
// sealed ticket's length is measured on the wire first.
func TestServerTicketCapBoundary(t *testing.T) {
	leakCheck(t)
	k := newTicketKey(t)
	v := uint16(tls.VersionTLS13)
	cfg := func() *tls.Config { return &tls.Config{MinVersion: v, MaxVersion: v} }
	client := func() Config { return Config{MinVersion: v, MaxVersion: v, ClientSessionCache: NewSessionCache(4)} }

	f := startFleet(t, cfg, ServerOptions{}, k)
	c := client()
	f.visit(t, 0, c)
	sealed := len(f.visit(t, 1, c).offered)
	fits := ticketMessageOverhead + sealed
	t.Logf("TLS 1.3 sealed ticket %d bytes, NewSessionTicket message %d bytes", sealed, fits)

	t.Run("fits", func(t *testing.T) {
		f := startFleet(t, cfg, ServerOptions{MaxRecord: fits}, k)
		c := client()
		f.visit(t, 0, c)
		got := f.visit(t, 1, c)
		sealedBy(t, "at the cap", got.offered, k)
		if !got.resumed || len(got.offered) != sealed {
			t.Errorf("at a cap of %d the other server did not resume (%q)", fits, got.line)
		}
		f.checkRecords(t, v, fits)
		if m := maxLen(f.relays[0].records(1), nil); m != serverRecordBound(v, fits) {
			t.Errorf("largest record %d bytes, want the ticket's record at the bound, %d", m, serverRecordBound(v, fits))
		}
	})
	t.Run("one byte short", func(t *testing.T) {
		f := startFleet(t, cfg, ServerOptions{MaxRecord: fits - 1}, k)
		c := client()
		f.visit(t, 0, c)
		got := f.visit(t, 1, c)
		if got.resumed || len(got.offered) != ticketNameLen {
			t.Errorf("at a cap of %d: offered a %d-byte ticket, resumed %v; want a %d-byte name, not resumed",
				fits-1, len(got.offered), got.resumed, ticketNameLen)
		}
		got = f.visit(t, 1, c) // B's own name now
		if !got.resumed || len(got.offered) != ticketNameLen {
			t.Errorf("the server's own name: offered %d bytes, resumed %v", len(got.offered), got.resumed)
		}
		f.checkRecords(t, v, fits-1)
	})
}

// clientCert returns a one-certificate client chain issued by the test CA.
func clientCert(t *testing.T) tls.Certificate {
	t.Helper()
	p := newTestPKI(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "device 0001"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestServerTicketClientAuth: with client authentication the session holds
// the client's chain. A one-certificate chain makes a sealed ticket that
// the other server resumes with the client's identity; a chain of over
// 4 KiB would make a ticket above ticketkey.MaxTicketLen, so the ticket is
// a name in the issuing server's cache: that server resumes, the other makes
// a full handshake. At max_fragment_length 512 every record stays within
// the cap, the TLS 1.2 ticket message (plaintext, split by the guard)
// included.
func TestServerTicketClientAuth(t *testing.T) {
	leakCheck(t)
	k := newTicketKey(t)
	small, big := clientCert(t), bigChain(t, x509.ExtKeyUsageClientAuth)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := func() *tls.Config {
			return &tls.Config{MinVersion: v, MaxVersion: v, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: newTestPKI(t).Pool}
		}
		t.Run("small chain/"+versionName(v), func(t *testing.T) {
			f := startFleet(t, cfg, ServerOptions{}, k)
			c := Config{MinVersion: v, MaxVersion: v, ClientSessionCache: NewSessionCache(4), Certificates: []tls.Certificate{small}}
			f.visit(t, 0, c)
			got := f.visit(t, 1, c)
			t.Logf("sealed ticket with a %d-byte client certificate: %d bytes", len(small.Certificate[0]), len(got.offered))
			sealedBy(t, "small chain", got.offered, k)
			if got.line != "resumed=true client-certs=1\n" {
				t.Errorf("the other server said %q", got.line)
			}
		})
		t.Run("large chain/"+versionName(v), func(t *testing.T) {
			f := startFleet(t, cfg, ServerOptions{}, k)
			c := Config{MinVersion: v, MaxVersion: v, ClientSessionCache: NewSessionCache(4), Certificates: []tls.Certificate{big},
				MaxFragmentLength: 512}
			f.visit(t, 0, c)
			got := f.visit(t, 1, c)
			if got.resumed || len(got.offered) != ticketNameLen {
				t.Errorf("the other server: offered %d bytes, resumed %v; want a name, not resumed", len(got.offered), got.resumed)
			}
			got = f.visit(t, 1, c)
			if got.line != "resumed=true client-certs=4\n" || len(got.offered) != ticketNameLen {
				t.Errorf("the issuing server said %q to a %d-byte ticket", got.line, len(got.offered))
			}
			f.checkRecords(t, v, 512)
		})
	}
}

// TestServerTicketsOpenSSL checks the fleet with an independent client:
// openssl s_client saves the session made with one server (-sess_out) and
// offers it to the other (-sess_in), which must report "Reused", in TLS 1.2
// and 1.3 at max_fragment_length 512; after a rotation that keeps the key
// it still resumes; after one that drops it, the handshake is a full one and
// succeeds.
func TestServerTicketsOpenSSL(t *testing.T) {
	bin := peerproc.Require(t, "openssl", "openssl")
	caFile, _, _ := pemFiles(t)
	k1, k2, k3 := newTicketKey(t), newTicketKey(t), newTicketKey(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			f := startFleet(t, func() *tls.Config { return &tls.Config{MinVersion: v, MaxVersion: v} }, ServerOptions{}, k1)
			flag := map[uint16]string{tls.VersionTLS12: "-tls1_2", tls.VersionTLS13: "-tls1_3"}[v]
			sess := filepath.Join(t.TempDir(), "sess.pem")
			run := func(server int, sessArg string) string {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, "s_client", "-connect", f.relays[server].Addr(), flag, "-maxfraglen", "512",
					"-CAfile", caFile, "-verify_return_error", "-servername", "localhost", "-ign_eof", sessArg, sess)
				cmd.Stdin = strings.NewReader("ping\n")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("openssl s_client %s: %v\n%s", sessArg, err, out)
				}
				return string(out)
			}
			if out := run(0, "-sess_out"); !strings.Contains(out, "New, TLSv1.") {
				t.Fatalf("first connection is not a new session:\n%s", out)
			}
			if out := run(1, "-sess_in"); !strings.Contains(out, "Reused, TLSv1.") || !strings.Contains(out, "resumed=true") {
				t.Fatalf("the other server did not resume the session:\n%s", out)
			}
			f.rotate(t, k2, k1)
			if out := run(1, "-sess_in"); !strings.Contains(out, "Reused, TLSv1.") {
				t.Fatalf("after a rotation keeping the key, no resumption:\n%s", out)
			}
			f.rotate(t, k3, k2)
			if out := run(0, "-sess_in"); !strings.Contains(out, "New, TLSv1.") || !strings.Contains(out, "resumed=false") {
				t.Fatalf("after the key was dropped, not a new session:\n%s", out)
			}
			f.checkRecords(t, v, 512)
		})
	}
}

// TestServerTicketSizes measures sealed tickets on the wire, as the
// client offers them back, for each TLS 1.3 suite and in TLS 1.2, without
// client authentication: ServerOptions.TicketKeys documents them as 113 to
// 129 bytes in TLS 1.3 (a message of at most 146: the session's secret is
// 32 or 48 bytes) and 131 in TLS 1.2. The other server must resume each.
func TestServerTicketSizes(t *testing.T) {
	k := newTicketKey(t)
	tests := []struct {
		v        uint16
		suite    uint16
		min, max int
	}{
		{tls.VersionTLS12, 0, 131, 131},
		{tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, 113, 129},
		{tls.VersionTLS13, tls.TLS_CHACHA20_POLY1305_SHA256, 113, 129},
		{tls.VersionTLS13, tls.TLS_AES_256_GCM_SHA384, 113, 129},
	}
	for _, tt := range tests {
		f := startFleet(t, func() *tls.Config { return &tls.Config{MinVersion: tt.v, MaxVersion: tt.v} }, ServerOptions{}, k)
		c := Config{MinVersion: tt.v, MaxVersion: tt.v, ClientSessionCache: NewSessionCache(4)}
		name := versionName(tt.v)
		if tt.suite != 0 {
			c.CipherSuites = []uint16{tt.suite}
			name += " " + tls.CipherSuiteName(tt.suite)
		}
		f.visit(t, 0, c)
		got := f.visit(t, 1, c)
		n := len(got.offered)
		msg := 4 + 4 + 2 + n // TLS 1.2: header, lifetime hint, ticket length
		if tt.v == tls.VersionTLS13 {
			msg = ticketMessageOverhead + n
		}
		t.Logf("%s: sealed ticket %d bytes (state %d), NewSessionTicket message %d", name, n, n-ticketkey.Overhead, msg)
		sealedBy(t, name, got.offered, k)
		if !got.resumed || n < tt.min || n > tt.max {
			t.Errorf("%s: a %d-byte ticket, resumed %v; documented: %d to %d bytes", name, n, got.resumed, tt.min, tt.max)
		}
	}
}
