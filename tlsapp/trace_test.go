package tlsapp

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// wireLog is the server side's view of the wire: it parses the record
// headers of what the server's socket reads and writes, independently of the
// client, and keeps the first bytes the client sent (the ClientHello).
type wireLog struct {
	mu      sync.Mutex
	lines   []string // "sent|received TYPE LEN" from the client's point of view
	hello   []byte
	pending [2][]byte
}

func (w *wireLog) add(dir int, b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if dir == 0 && len(w.hello) < 64 {
		w.hello = append(w.hello, b[:min(len(b), 64-len(w.hello))]...)
	}
	w.pending[dir] = append(w.pending[dir], b...)
	p := w.pending[dir]
	for len(p) >= wire.HeaderLen {
		h, err := wire.ParseHeader(p)
		if err != nil || len(p) < wire.HeaderLen+h.Len {
			break
		}
		w.lines = append(w.lines, fmt.Sprintf("%s %s %d", [2]string{"sent", "received"}[dir], h.Type, h.Len))
		p = p[wire.HeaderLen+h.Len:]
	}
	w.pending[dir] = append(w.pending[dir][:0], p...)
}

type wireConn struct {
	net.Conn
	log *wireLog
}

func (c wireConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.log.add(0, p[:n])
	return n, err
}

func (c wireConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.log.add(1, p[:n])
	return n, err
}

// startWireServer runs a crypto/tls server whose socket is watched by a
// wireLog and which writes its own key log to keys; each connection reads
// one line and answers with size bytes, then closes with close_notify.
func startWireServer(t *testing.T, version uint16, size int, keys io.Writer) (string, *wireLog) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := &wireLog{}
	cfg := &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}, MinVersion: version, MaxVersion: version,
		KeyLogWriter: keys, SessionTicketsDisabled: true}
	testnet.Serve(t, ln, 30*time.Second, func(c net.Conn) {
		tc := tls.Server(wireConn{c, wl}, cfg)
		if _, err := bufio.NewReader(tc).ReadString('\n'); err != nil {
			return
		}
		tc.Write(bytes.Repeat([]byte("x"), size))
		tc.CloseWrite()
		io.Copy(io.Discard, tc) // the client's close_notify crosses the watched socket
		tc.Close()
	})
	return ln.Addr().String(), wl
}

// TestTraceMatchesWire checks that Config.Trace reports every record in
// both directions, in order, with the type and length the server's socket
// saw, and the epochs in the order plaintext, handshake, application.
func TestTraceMatchesWire(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(fmt.Sprintf("%x", v), func(t *testing.T) {
			addr, wl := startWireServer(t, v, 40000, nil)
			var mu sync.Mutex
			var got []TraceRecord
			c := dialTest(t, addr, Config{MaxVersion: v, MaxFragmentLength: 1024, Trace: func(r TraceRecord) {
				mu.Lock()
				got = append(got, r)
				mu.Unlock()
			}})
			io.WriteString(c, "GET\n")
			if n, err := io.Copy(io.Discard, c); n != 40000 || err != nil {
				t.Fatalf("read %d, %v", n, err)
			}
			c.Close()
			mu.Lock()
			defer mu.Unlock()
			waitFor(t, func() bool { // the server reads the client's close_notify
				wl.mu.Lock()
				defer wl.mu.Unlock()
				n := 0
				for _, r := range got {
					if r.Direction == Sent {
						n++
					}
				}
				return len(filter(wl.lines, "sent")) >= n
			})
			wl.mu.Lock()
			defer wl.mu.Unlock()
			var lines []string
			epochs := map[Direction][]Epoch{}
			for _, r := range got {
				lines = append(lines, fmt.Sprintf("%s %s %d", r.Direction, r.Type, r.Len))
				if e := epochs[r.Direction]; len(e) == 0 || e[len(e)-1] != r.Epoch {
					epochs[r.Direction] = append(e, r.Epoch)
				}
			}
			// Each direction's order is what the wire shows; the two
			// directions interleave differently on the two sides.
			for _, dir := range []string{"sent ", "received "} {
				if g, w := filter(lines, dir), filter(wl.lines, dir); strings.Join(g, "\n") != strings.Join(w, "\n") {
					t.Errorf("%srecords: trace\n%s\nwire\n%s", dir, strings.Join(g, "\n"), strings.Join(w, "\n"))
				}
			}
			want := []Epoch{EpochPlaintext, EpochHandshake, EpochApplication}
			for _, dir := range []Direction{Sent, Received} {
				if fmt.Sprint(epochs[dir]) != fmt.Sprint(want) {
					t.Errorf("%s epochs %v, want %v", dir, epochs[dir], want)
				}
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
	}
}

func filter(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// TestKeyLogMatchesServer checks Config.KeyLogWriter against the server's
// own key log (crypto/tls writes the same NSS key log lines): every line the
// client logs, the server logged too, with the client random of the
// ClientHello as the server's socket read it, and the labels Wireshark
// needs for each version.
func TestKeyLogMatchesServer(t *testing.T) {
	for _, tc := range []struct {
		version uint16
		labels  []string
	}{
		{tls.VersionTLS12, []string{"CLIENT_RANDOM"}},
		{tls.VersionTLS13, []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
			"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}},
	} {
		t.Run(fmt.Sprintf("%x", tc.version), func(t *testing.T) {
			var serverKeys, clientKeys syncBuffer
			addr, wl := startWireServer(t, tc.version, 100, &serverKeys)
			c := dialTest(t, addr, Config{MaxVersion: tc.version, KeyLogWriter: &clientKeys})
			io.WriteString(c, "GET\n")
			io.Copy(io.Discard, c)
			c.Close()
			wl.mu.Lock()
			// record header 5, handshake header 4, legacy_version 2
			random := hex.EncodeToString(wl.hello[11 : 11+32])
			wl.mu.Unlock()
			var labels []string
			for _, line := range strings.Split(strings.TrimSpace(clientKeys.String()), "\n") {
				f := strings.Fields(line)
				if len(f) != 3 {
					t.Fatalf("key log line %q is not LABEL CLIENT_RANDOM SECRET", line)
				}
				labels = append(labels, f[0])
				if f[1] != random {
					t.Errorf("%s: client random %s, the ClientHello on the wire has %s", f[0], f[1], random)
				}
				if !strings.Contains(serverKeys.String(), line+"\n") {
					t.Errorf("line %q is not in the server's key log:\n%s", line, serverKeys.String())
				}
			}
			if fmt.Sprint(labels) != fmt.Sprint(tc.labels) {
				t.Errorf("labels %v, want %v", labels, tc.labels)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestTraceLine checks the trace line format.
func TestTraceLine(t *testing.T) {
	for _, tc := range []struct {
		r    TraceRecord
		want string
	}{
		{TraceRecord{Sent, EpochPlaintext, recordlimit.TypeHandshake, 250}, "sent plaintext handshake 250"},
		{TraceRecord{Received, EpochApplication, recordlimit.TypeApplicationData, 2065}, "received application application_data 2065"},
		{TraceRecord{Received, EpochHandshake, recordlimit.TypeAlert, 26}, "received handshake alert 26"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}
