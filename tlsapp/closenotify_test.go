package tlsapp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/testnet"
)

// TestCloseNotify tells a close_notify from a TCP close on real sockets:
// crypto/tls servers that end a response either with Close (close_notify,
// then FIN) or by closing the TCP socket under the TLS connection, at a
// record boundary. utls returns io.EOF for both; RecordState must not.
func TestCloseNotify(t *testing.T) {
	body := bytes.Repeat([]byte("firmware"), 4096)
	for _, tc := range []struct {
		name   string
		notify bool
		rsl    int
	}{
		{"close_notify", true, 0},
		{"tcp close", false, 0},
		{"close_notify rsl 2048", true, 2048},
		{"tcp close rsl 2048", false, 2048},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			sent := make(chan error, 1)
			testnet.Serve(t, ln, 10*time.Second, func(raw net.Conn) {
				c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}})
				if _, err := c.Write(body); err != nil {
					sent <- err
					return
				}
				if tc.notify {
					sent <- c.Close()
				} else {
					sent <- raw.Close()
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := Dial(ctx, "tcp", ln.Addr().String(), &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool, RecordSizeLimit: tc.rsl})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if err := <-sent; err != nil {
				t.Fatalf("server: %v", err)
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("read %d bytes, want %d", len(got), len(body))
			}
			if st := conn.RecordState(); st.CloseNotify != tc.notify || conn.CloseNotifyReceived() != tc.notify {
				t.Errorf("CloseNotify %v, CloseNotifyReceived %v; the server sent close_notify: %v",
					st.CloseNotify, conn.CloseNotifyReceived(), tc.notify)
			}
			// A second Read keeps saying the same.
			if _, err := conn.Read(make([]byte, 10)); !errors.Is(err, io.EOF) {
				t.Errorf("second read: %v, want io.EOF", err)
			}
			if conn.RecordState().CloseNotify != tc.notify {
				t.Errorf("CloseNotify changed after a second read")
			}
		})
	}
}

// TestCloseNotifyOpenSSLWWW fetches a file from openssl s_server -WWW, which
// answers HTTP/1.0 without Content-Length and ends the body with
// close_notify.
func TestCloseNotifyOpenSSLWWW(t *testing.T) {
	bin := peerproc.Require(t, "openssl", "openssl")
	_, cert, key := pemFiles(t)
	dir := t.TempDir()
	body := bytes.Repeat([]byte("0123456789abcdef"), 8192)
	if err := os.WriteFile(filepath.Join(dir, "fw.bin"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		t.Run(v, func(t *testing.T) {
			addr := peerproc.Start(t, dir, bin, "s_server", "-accept", "127.0.0.1:%PORT%", "-cert", cert, "-key", key, "-WWW", "-quiet", v)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := Dial(ctx, "tcp", addr, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /fw.bin HTTP/1.0\r\n\r\n")
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if bytes.Contains(bytes.ToLower(got[:bytes.Index(got, []byte("\r\n\r\n"))]), []byte("content-length")) {
				t.Fatalf("s_server -WWW sent a Content-Length; the test needs a body that ends at the close")
			}
			if !bytes.HasSuffix(got, body) {
				t.Fatalf("body of %d bytes does not end with the file", len(got))
			}
			if !conn.RecordState().CloseNotify {
				t.Errorf("CloseNotify false after s_server -WWW ended the body with close_notify")
			}
		})
	}
}
