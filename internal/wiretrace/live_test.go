package wiretrace

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// serverSide records the headers of the records a server's socket reads
// and writes, as "sent|received TYPE LEN" from the client's side.
type serverSide struct {
	mu    sync.Mutex
	lines []string
}

type watchedServerConn struct {
	net.Conn
	s       *serverSide
	in, out []byte
}

func (s *serverSide) scan(buf *[]byte, p []byte, dir string) {
	*buf = append(*buf, p...)
	for len(*buf) >= 5 {
		n := int(binary.BigEndian.Uint16((*buf)[3:5]))
		if len(*buf) < 5+n {
			return
		}
		s.mu.Lock()
		s.lines = append(s.lines, fmt.Sprintf("%s %s %d", dir, contentTypeName((*buf)[0]), n))
		s.mu.Unlock()
		*buf = (*buf)[5+n:]
	}
}

func (c *watchedServerConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.scan(&c.in, p[:n], "sent")
	return n, err
}

func (c *watchedServerConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.s.scan(&c.out, p[:n], "received")
	return n, err
}

// TestLiveTrace traces real tlsapp connections to Go's crypto/tls server
// through Dial: the records of each direction are, in order, the ones the
// server's socket saw; with the logged keys every protected record is
// decrypted and both Finished messages are named (TLS 1.3 and TLS 1.2
// AES-GCM), although the keys are logged after the first protected
// records arrive; with a suite the trace cannot decrypt (the modem
// stand-in's TLS 1.2 AES-CBC) the records are reported at once, by type
// and length, with the reason.
func TestLiveTrace(t *testing.T) {
	now := time.Now()
	ca := testpki.Issue(t, "wiretrace live CA", true, now.Add(-time.Hour), now.Add(time.Hour), nil)
	leaf := testpki.Issue(t, "127.0.0.1", false, now.Add(-time.Hour), now.Add(time.Hour), ca, "127.0.0.1")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, tc := range []struct {
		name    string
		cfg     tlsapp.Config
		decrypt bool
	}{
		{"TLS 1.3", tlsapp.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 AES-GCM", tlsapp.Config{MaxVersion: tls.VersionTLS12, RecordSizeLimit: 1024}, true},
		{"TLS 1.2 AES-CBC (modem)", *tlsapp.ModemConfig("127.0.0.1"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			side := &serverSide{}
			done := make(chan struct{})
			testnet.Serve(t, ln, 10*time.Second, func(raw net.Conn) {
				defer close(done)
				c := tls.Server(&watchedServerConn{Conn: raw, s: side}, &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}})
				buf := make([]byte, 64)
				if _, err := c.Read(buf); err != nil {
					return
				}
				for range 20 { // records a modem holds
					c.Write(make([]byte, 1000))
				}
				c.CloseWrite()
				io.Copy(io.Discard, c) // to the client's close_notify
				c.Close()
			})
			var mu sync.Mutex
			var events []Event
			keys := NewKeys()
			cfg := tc.cfg
			cfg.RootCAs, cfg.ServerName, cfg.KeyLogWriter = pool, "127.0.0.1", keys
			d := tlsapp.Dialer{Config: &cfg, DialTransport: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return Dial(ctx, nil, network, addr, keys, func(e Event) {
					mu.Lock()
					events = append(events, e)
					mu.Unlock()
				})
			}}
			c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET\n")
			if n, err := io.Copy(io.Discard, c); n != 20000 || err != nil {
				t.Fatalf("read %d B: %v", n, err)
			}
			c.Close()
			<-done
			mu.Lock()
			defer mu.Unlock()
			var got []string
			names := map[string]bool{}
			for _, e := range events {
				if e.Record == nil {
					continue
				}
				got = append(got, fmt.Sprintf("%s %s %d", e.Dir, e.Type, e.Len))
				for _, m := range e.Messages {
					names[e.Dir+" "+m.Name] = true
				}
				if tc.decrypt && e.Note != "" {
					t.Errorf("%s %s %d: %s", e.Dir, e.Type, e.Len, e.Note)
				}
				if !tc.decrypt && e.Epoch != "plaintext" && !strings.Contains(e.Note, "does not decrypt TLS_ECDHE_ECDSA_WITH_AES") && e.Type != "application_data" {
					t.Errorf("%s %s %d: note %q", e.Dir, e.Type, e.Len, e.Note)
				}
			}
			side.mu.Lock()
			want := side.lines
			side.mu.Unlock()
			for _, dir := range []string{"sent", "received"} {
				if g, w := filter(got, dir), filter(want, dir); g != w {
					t.Errorf("%s records: trace\n%s\nserver's socket\n%s", dir, g, w)
				}
			}
			if tc.decrypt && (!names["sent Finished"] || !names["received Finished"]) {
				t.Errorf("Finished not named both ways: %v", names)
			}
			if last := events[len(events)-1]; last.Kind != KindClose || last.Note != "" {
				t.Errorf("last event %+v", last)
			}
		})
	}
}

func filter(lines []string, dir string) string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, dir+" ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
