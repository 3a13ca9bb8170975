package probe

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// chunks is a transport that hands out its chunks one per Read, the last
// with io.EOF when eofWithLast (as a TLS connection may return the last
// bytes with the close), else io.EOF after it.
type chunks struct {
	net.Conn
	c           [][]byte
	eofWithLast bool
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.c[0])
	if n < len(c.c[0]) {
		c.c[0] = c.c[0][n:]
		return n, nil
	}
	c.c = c.c[1:]
	if len(c.c) == 0 && c.eofWithLast {
		return n, io.EOF
	}
	return n, nil
}

// pieces cuts b into pieces of at most n bytes.
func pieces(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// header is a 206's header of exactly n bytes, its blank line included.
func header(n int) []byte {
	h := "HTTP/1.1 206 Partial Content\r\nX-Pad: "
	return []byte(h + strings.Repeat("p", n-len(h)-4) + "\r\n\r\n")
}

// TestReadHeaderBound: a response header of maxHeader bytes (with its
// blank line) is read, one of maxHeader+1 is refused, however either
// arrives: at once, 4 KiB, 1000 bytes or one byte per read; and the body
// bytes read with the header are kept for the body.
func TestReadHeaderBound(t *testing.T) {
	body := []byte("0123456789")
	for _, n := range []int{maxHeader, maxHeader + 1} {
		for _, size := range []int{1 << 20, 4096, 1000, 1} {
			for _, eof := range []bool{false, true} {
				in := append(header(n), body...)
				m := &ranger{}
				got, err := m.readHeader(&chunks{c: pieces(in, size), eofWithLast: eof})
				if n > maxHeader {
					if err == nil || !strings.Contains(err.Error(), "longer than") {
						t.Errorf("%d B in %d B reads: %d B, %v; want the header refused", n, size, len(got), err)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, in[:n]) {
					t.Errorf("%d B in %d B reads: %d B, %v; want the header", n, size, len(got), err)
					continue
				}
				rest := append([]byte(nil), m.br...)
				if !bytes.HasPrefix(body, rest) {
					t.Errorf("%d B in %d B reads: kept %q, not the body's first bytes", n, size, rest)
				}
			}
		}
	}
}

// TestReadHeaderBlankLineSplit: the blank line found wherever reads cut
// it, and a header whose last bytes come with io.EOF still read.
func TestReadHeaderBlankLineSplit(t *testing.T) {
	in := []byte("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/10\r\n\r\n")
	for cut := 1; cut < len(in); cut++ {
		for _, eof := range []bool{false, true} {
			m := &ranger{}
			got, err := m.readHeader(&chunks{c: [][]byte{in[:cut], in[cut:]}, eofWithLast: eof})
			if err != nil || !bytes.Equal(got, in) || len(m.br) != 0 {
				t.Errorf("cut at %d (EOF with the last bytes %v): %q, %v", cut, eof, got, err)
			}
		}
	}
	m := &ranger{}
	if got, err := m.readHeader(&chunks{c: [][]byte{in[:len(in)-1]}, eofWithLast: true}); err != io.EOF {
		t.Errorf("a header cut a byte short: %q, %v; want io.EOF", got, err)
	}
}

// TestReadHeaderStalls: a server that sends maxHeader bytes without a
// blank line and then stalls is refused at once, not when the read
// deadline ends.
func TestReadHeaderStalls(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go b.Write(bytes.Repeat([]byte("x"), maxHeader))
	a.SetReadDeadline(time.Now().Add(10 * time.Second))
	m := &ranger{}
	_, err := m.readHeader(a)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("err %v, want the header refused at once", err)
	}
}

func TestParseHeaderStatus(t *testing.T) {
	for _, tc := range []struct {
		h      string
		status int
	}{
		{"HTTP/1.1 206 Partial Content\r\n\r\n", 206},
		{"HTTP/1.1 206 \r\n\r\n", 206}, // the reason phrase may be empty
		{"HTTP/1.1 206\r\n\r\n", 206},
		{"HTTP/1.0 200 OK\r\n\r\n", 200},
		{"HTTP/1.1\r\n\r\n", 0},
		{"HTTP/2 206 x\r\n\r\n", 0},
		{"\r\n\r\n", 0},
	} {
		if got, _ := parseHeader([]byte(tc.h)); got != tc.status {
			t.Errorf("%q: status %d, want %d", tc.h, got, tc.status)
		}
	}
}
