package tlsapp

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Record expansion on the wire for the suites the client prefers: TLS 1.2
// AES-GCM adds an 8-byte explicit nonce and a 16-byte tag; TLS 1.3 adds the
// tag, and the inner content-type byte is counted separately.
const (
	expansion12 = 24
	expansion13 = 16
)

// TestInterop runs every real peer, in TLS 1.2 and 1.3, at each
// max_fragment_length and record_size_limit: it checks what the server
// agreed, moves 256 KiB each way, and checks every record in both directions
// with an independent relay.
func TestInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("interop matrix skipped in -short mode")
	}
	type limit struct {
		mfl, rsl int
	}
	limits := []limit{{mfl: 512}, {mfl: 1024}, {mfl: 2048}, {mfl: 4096}, {rsl: 64}, {rsl: 512}, {rsl: 2048}, {rsl: 16385}}
	for _, p := range []peer{opensslPeer(), gnutlsPeer(), goPeer()} {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			for _, l := range limits {
				if v == tls.VersionTLS12 && l.rsl > recordlimit.MaxRecordSizeLimitTLS12 {
					// RFC 8449: never advertise more than the version's maximum.
					l.rsl = recordlimit.MaxRecordSizeLimitTLS12
				}
				name := fmt.Sprintf("%s/%s/mfl=%d,rsl=%d", p.name, versionName(v), l.mfl, l.rsl)
				t.Run(name, func(t *testing.T) {
					want := expectedAgreement(p.name, v, l.mfl, l.rsl)
					if p.name == "gnutls" && v == tls.VersionTLS12 && l.mfl != 0 {
						t.Skip("gnutls-serv lies about max_fragment_length in TLS 1.2: see TestLyingPeer")
					}
					relay := newRelay(t, p.start(t, v, false))
					c := dialTest(t, relay.Addr(), Config{MinVersion: v, MaxVersion: v,
						MaxFragmentLength: l.mfl, RecordSizeLimit: l.rsl, RootCAs: newTestPKI(t).Pool})
					st := c.RecordState()
					if st.Agreed != want {
						t.Fatalf("agreed %v, want %v", st.Agreed, want)
					}
					exchange(t, c, p, 256<<10)
					st = c.RecordState()
					c.Close()
					checkRecords(t, relay, v, l.mfl, l.rsl, st)
				})
			}
		}
	}
}

func versionName(v uint16) string {
	if v == tls.VersionTLS13 {
		return "tls13"
	}
	return "tls12"
}

// expectedAgreement is what each peer was measured to do (see
// shared/notes/peers-and-limits.md): OpenSSL honours max_fragment_length
// only, GnuTLS honours record_size_limit (and max_fragment_length in TLS
// 1.3), Go's crypto/tls neither.
func expectedAgreement(peer string, v uint16, mfl, rsl int) recordlimit.Kind {
	switch {
	case peer == "openssl" && mfl != 0:
		return recordlimit.KindMFL
	case peer == "gnutls" && rsl != 0:
		return recordlimit.KindRSL
	case peer == "gnutls" && mfl != 0 && v == tls.VersionTLS13:
		return recordlimit.KindMFL
	}
	return recordlimit.KindNone
}

// checkRecords checks every record the relay saw against the limits the
// RFCs set for what was agreed, and the library's own counters against the
// relay's.
func checkRecords(t *testing.T, relay *recordRelay, v uint16, mfl, rsl int, st RecordState) {
	t.Helper()
	exp := expansion12
	if v == tls.VersionTLS13 {
		exp = expansion13 + 1
	}
	up, down := relay.records(0), relay.records(1)
	protected := func(r relayRecord) bool { return r.Type == 23 || (v == tls.VersionTLS12 && r.AfterCCS) }
	clientMax := maxLen(up, nil)
	serverMax := maxLen(down, protected)
	switch st.Agreed {
	case recordlimit.KindMFL:
		if clientMax > mfl+exp {
			t.Errorf("client sent a %d-byte record, agreed max_fragment_length %d allows %d", clientMax, mfl, mfl+exp)
		}
		if serverMax > mfl+exp {
			t.Errorf("server sent a %d-byte record under max_fragment_length %d", serverMax, mfl)
		}
		if plain := maxLen(down, func(r relayRecord) bool { return !protected(r) }); plain > mfl {
			t.Errorf("server sent a %d-byte plaintext record under max_fragment_length %d", plain, mfl)
		}
	case recordlimit.KindRSL:
		// The server's record_size_limit bounds what the client sends; in
		// TLS 1.3 it counts the content-type byte.
		peerLimit := st.PeerRecordSizeLimit
		bound := peerLimit + expansion12
		if v == tls.VersionTLS13 {
			bound = peerLimit + expansion13
		}
		if clientMax > bound {
			t.Errorf("client sent a %d-byte record, server's record_size_limit %d allows %d", clientMax, peerLimit, bound)
		}
		bound = rsl + expansion12
		if v == tls.VersionTLS13 {
			bound = rsl + expansion13
		}
		if serverMax > bound {
			t.Errorf("server sent a %d-byte protected record, our record_size_limit %d allows %d", serverMax, rsl, bound)
		}
	default:
		if clientMax > recordlimit.MaxPlaintext+exp {
			t.Errorf("client sent a %d-byte record", clientMax)
		}
	}
	if st.LargestSent != clientMax {
		t.Errorf("RecordState.LargestSent = %d, relay saw %d", st.LargestSent, clientMax)
	}
	if all := maxLen(down, nil); st.LargestReceived != all {
		t.Errorf("RecordState.LargestReceived = %d, relay saw %d", st.LargestReceived, all)
	}
	t.Logf("agreed %v: client max %d (%d records), server max protected %d (%d records)",
		st.Agreed, clientMax, len(up), serverMax, len(down))
}

// TestMutualTLSBigChain sends a client certificate chain of more than 4 KiB
// to OpenSSL (which enforces max_fragment_length on what it receives) under
// 512 and 1024-byte limits: the handshake succeeds and no client record
// exceeds the limit, in TLS 1.2 (plaintext Certificate, split) and TLS 1.3
// (encrypted Certificate, re-encrypted in smaller records).
func TestMutualTLSBigChain(t *testing.T) {
	chain := bigClientChain(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, mfl := range []int{512, 1024} {
			t.Run(fmt.Sprintf("%s/mfl=%d", versionName(v), mfl), func(t *testing.T) {
				p := opensslPeer()
				relay := newRelay(t, p.start(t, v, true))
				c := dialTest(t, relay.Addr(), Config{MinVersion: v, MaxVersion: v, MaxFragmentLength: mfl,
					Certificates: []tls.Certificate{chain}})
				exchange(t, c, p, 16<<10)
				st := c.RecordState()
				c.Close()
				if st.Agreed != recordlimit.KindMFL {
					t.Fatalf("agreed %v", st.Agreed)
				}
				checkRecords(t, relay, v, mfl, 0, st)
				// The chain really did cross: more handshake bytes than the chain.
				if st.HandshakeBytesSent < 4096 {
					t.Errorf("client handshake was only %d bytes", st.HandshakeBytesSent)
				}
			})
		}
	}
}

// TestMaliciousServer has OpenSSL agree to max_fragment_length 512 and a
// relay then slip a 600-byte record between genuine ones: the client ends
// the connection with a typed record_overflow error, delivers only data from
// records before it, and tells the server so with an alert.
func TestMaliciousServer(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			bin := peerproc.Require(t, "openssl", "openssl")
			_, cert, key := pemFiles(t)
			dir := t.TempDir()
			file := make([]byte, 64<<10)
			for i := range file {
				file[i] = 'a' + byte(i%26)
			}
			if err := os.WriteFile(filepath.Join(dir, "image.bin"), file, 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"s_server", "-accept", "127.0.0.1:%PORT%", "-cert", cert, "-key", key, "-WWW", "-quiet", "-tls1_2"}
			if v == tls.VersionTLS13 {
				args[len(args)-1] = "-tls1_3"
			}
			relay := newRelay(t, peerproc.Start(t, dir, bin, args...))
			appRecords := 0
			relay.tamper = func(i int, rec []byte) [][]byte {
				if rec[0] != 23 {
					return [][]byte{rec}
				}
				appRecords++
				if appRecords == 12 {
					bad := append([]byte{23, 3, 3, 600 >> 8, 600 & 0xff}, make([]byte, 600)...)
					return [][]byte{bad, rec}
				}
				return [][]byte{rec}
			}
			c := dialTest(t, relay.Addr(), Config{MinVersion: v, MaxVersion: v, MaxFragmentLength: 512})
			if _, err := c.Write([]byte("GET /image.bin HTTP/1.0\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := io.ReadAll(c)
			var ov *recordlimit.RecordOverflowError
			if !errors.As(err, &ov) || ov.Len != 600 || !ov.Agreed {
				t.Fatalf("read %d bytes, err %v; want a RecordOverflowError for the 600-byte record", len(got), err)
			}
			if a, _ := recordlimit.AlertOf(err); a != recordlimit.AlertRecordOverflow {
				t.Errorf("alert %v", a)
			}
			// Everything delivered came from the 11 records before the bad one
			// (fewer in TLS 1.3, where session tickets are records too) and is
			// exactly the start of the response.
			if len(got) > 11*512 || len(got) == 0 {
				t.Errorf("delivered %d bytes", len(got))
			}
			body := got[bytes.Index(got, []byte("\r\n\r\n"))+4:]
			if !bytes.Equal(body, file[:len(body)]) {
				t.Error("delivered data is not a prefix of the file")
			}
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, recordlimit.ErrRecordOverflow) {
				t.Errorf("a later Read returned %v", err)
			}
			c.Close()
			time.Sleep(100 * time.Millisecond)
			last := relay.records(0)
			if n := len(last); n == 0 || (last[n-1].Type != 21 && last[n-1].Type != 23) {
				t.Errorf("the client's last record is not an alert: %+v", last)
			}
		})
	}
}

// TestLyingPeer uses GnuTLS in TLS 1.2, which echoes max_fragment_length and
// then sends 16 KiB records anyway: the client must end the connection with
// record_overflow.
func TestLyingPeer(t *testing.T) {
	p := gnutlsPeer()
	relay := newRelay(t, p.start(t, tls.VersionTLS12, false))
	c := dialTest(t, relay.Addr(), Config{MaxVersion: tls.VersionTLS12, MaxFragmentLength: 512})
	if st := c.RecordState(); st.Agreed != recordlimit.KindMFL {
		t.Fatalf("gnutls-serv agreed %v; it used to echo max_fragment_length", st.Agreed)
	}
	go func() {
		line := make([]byte, 20000)
		for i := range line {
			line[i] = 'x'
		}
		line[len(line)-1] = '\n'
		c.Write(line)
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.ReadAll(c)
	var ov *recordlimit.RecordOverflowError
	if !errors.As(err, &ov) || !ov.Agreed || ov.Limit != 512+expansion12 {
		t.Fatalf("err %v; want a RecordOverflowError against the agreed 536-byte bound", err)
	}
	if m := maxLen(relay.records(1), nil); m <= 536 {
		t.Errorf("the relay saw no oversize record (max %d): the peer no longer lies?", m)
	}
}

// TestResumptionKeepsLimit resumes a session with OpenSSL: the resumed
// handshake agrees to the same max_fragment_length, which then binds every
// record (RFC 6066: the value holds for the session, resumptions included).
func TestResumptionKeepsLimit(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			p := opensslPeer()
			relay := newRelay(t, p.start(t, v, false))
			cache := NewSessionCache(0)
			var last RecordState
			for i := 0; i < 2; i++ {
				c := dialTest(t, relay.Addr(), Config{MinVersion: v, MaxVersion: v, MaxFragmentLength: 1024, ClientSessionCache: cache})
				exchange(t, c, p, 8<<10)
				last = c.RecordState()
				c.Close()
			}
			if !last.Resumed || last.Agreed != recordlimit.KindMFL {
				t.Fatalf("second connection: resumed %v, agreed %v", last.Resumed, last.Agreed)
			}
			checkRecords(t, relay, v, 1024, 0, last)
		})
	}
}
