// Package httpscript is an HTTP/1.1 server over TLS for tests that answers
// each request exactly as the test's script says: any status, any header
// fields in any order, spelling and number (lies included), a body of any
// length, plain or chunked, finite or endless, and an end of the
// connection by keep-alive, close_notify, a TCP close without close_notify
// or a reset. It records every request it reads. It exists to prove what a
// client does with the answers that broken and hostile servers give and
// real ones do not.
//
// A script is a function of the request; [Seq] makes one from a list, the
// nth request getting the nth response. The server adds nothing a script
// did not ask for, save Transfer-Encoding: chunked for a chunked body whose
// header fields name no Transfer-Encoding.
package httpscript

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/testpki"
)

// End is how a response ends its connection.
type End int

// The ends of a response.
const (
	// KeepAlive leaves the connection open for the next request.
	KeepAlive End = iota
	// CloseNotify sends a TLS close_notify, then closes the connection.
	CloseNotify
	// Drop closes the TCP connection without a close_notify: a cut.
	Drop
	// Reset resets the TCP connection.
	Reset
)

// Response is the answer to one request, written exactly as its fields say.
type Response struct {
	// Status is the status code; the reason phrase is http.StatusText's.
	Status int
	// Header holds the header fields, written in this order as given:
	// names, values, duplicates and lies alike.
	Header [][2]string
	// Body is the body; Stream, when set, is read to its end instead (an
	// endless reader makes an endless body, written until the client
	// stops reading). A response to HEAD is written without either.
	Body   []byte
	Stream io.Reader
	// Chunked frames the body in chunks of ChunkSize bytes (0: 1024),
	// each flushed as it is written, ended with the last chunk unless
	// Unterminated.
	Chunked      bool
	ChunkSize    int
	Unterminated bool
	// End is how the connection goes on after the response.
	End End
	// Raw, when set, is written instead of everything above, as it is.
	Raw []byte
}

// Request is a request the server read.
type Request struct {
	N      int // its place among all requests, from 0
	Conn   int // the connection it came on, numbered from 0
	Method string
	Target string // the request target, as sent
	Header http.Header
}

// Script answers the requests.
type Script func(Request) Response

// Seq answers the nth request with rs[n]; a request past the end gets a
// 500 that closes the connection.
func Seq(rs ...Response) Script {
	return func(r Request) Response {
		if r.N < len(rs) {
			return rs[r.N]
		}
		return Response{Status: http.StatusInternalServerError, Header: [][2]string{{"Content-Length", "0"}}, End: CloseNotify}
	}
}

// Server is a running scripted server.
type Server struct {
	addr string
	pool *x509.CertPool

	mu    sync.Mutex
	reqs  []Request
	conns int
}

// Start starts a server on 127.0.0.1 with a certificate for 127.0.0.1 from a
// CA of its own (Pool), answering with script until the test ends.
func Start(tb testing.TB, script Script) *Server {
	tb.Helper()
	ca := testpki.Issue(tb, "httpscript CA", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	leaf := testpki.Issue(tb, "127.0.0.1", false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), ca, "127.0.0.1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{addr: ln.Addr().String(), pool: x509.NewCertPool()}
	s.pool.AddCert(ca.Cert)
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}}
	testnet.Serve(tb, ln, time.Minute, func(raw net.Conn) {
		s.mu.Lock()
		conn := s.conns
		s.conns++
		s.mu.Unlock()
		c := tls.Server(raw, cfg)
		br := bufio.NewReader(c)
		bw := bufio.NewWriter(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			s.mu.Lock()
			r := Request{N: len(s.reqs), Conn: conn, Method: req.Method, Target: req.RequestURI, Header: req.Header}
			s.reqs = append(s.reqs, r)
			s.mu.Unlock()
			resp := script(r)
			if err := resp.write(bw, req.Method == http.MethodHead); err != nil {
				return
			}
			switch resp.End {
			case CloseNotify:
				c.Close()
				return
			case Drop:
				raw.Close()
				return
			case Reset:
				if tc, ok := raw.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				raw.Close()
				return
			}
		}
	})
	return s
}

// URL returns the https URL of path (which starts with a slash) on the
// server.
func (s *Server) URL(path string) string { return "https://" + s.addr + path }

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Pool returns a pool holding the CA that issued the server's certificate.
func (s *Server) Pool() *x509.CertPool { return s.pool }

// Requests returns the requests read so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// write writes r to w and flushes it.
func (r *Response) write(w *bufio.Writer, head bool) error {
	if r.Raw != nil {
		w.Write(r.Raw)
		return w.Flush()
	}
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", r.Status, http.StatusText(r.Status))
	te := false
	for _, h := range r.Header {
		fmt.Fprintf(w, "%s: %s\r\n", h[0], h[1])
		te = te || http.CanonicalHeaderKey(h[0]) == "Transfer-Encoding"
	}
	if r.Chunked && !te {
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	w.WriteString("\r\n")
	if head {
		return w.Flush()
	}
	var body io.Reader = bytes.NewReader(r.Body)
	if r.Stream != nil {
		body = r.Stream
	}
	if !r.Chunked {
		if _, err := io.Copy(w, body); err != nil {
			return err
		}
		return w.Flush()
	}
	size := r.ChunkSize
	if size <= 0 {
		size = 1024
	}
	buf := make([]byte, size)
	for {
		n, err := io.ReadFull(body, buf)
		if n > 0 {
			w.WriteString(strconv.FormatInt(int64(n), 16) + "\r\n")
			w.Write(buf[:n])
			w.WriteString("\r\n")
			if ferr := w.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if !r.Unterminated {
		w.WriteString("0\r\n\r\n")
	}
	return w.Flush()
}

// Forever returns a reader that repeats p without end: an endless body.
func Forever(p []byte) io.Reader { return &forever{p: p} }

type forever struct {
	p []byte
	i int
}

func (f *forever) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k := copy(b[n:], f.p[f.i:])
		n += k
		f.i = (f.i + k) % len(f.p)
	}
	return n, nil
}
