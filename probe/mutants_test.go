package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/httpscript"
	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// rangeSeen is a Range request as the server read it.
type rangeSeen struct {
	conn int
	rng  string // "first-last"
}

// oneRecordServer serves a resource of size bytes with Range support over
// TLS, each answer (header and body) written as one record, so that a
// record's content is exactly the answer. pad[n], when set, makes the nth
// answer's record exactly that many content bytes (an X-Pad field). It
// keeps the Range of every request and the largest answer it wrote.
type oneRecordServer struct {
	addr string
	mu   sync.Mutex
	seen []rangeSeen
	conn int
	most int // the largest record content written
}

func startOneRecordServer(t *testing.T, cert tls.Certificate, version uint16, size int64, pad map[int]int) *oneRecordServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &oneRecordServer{addr: ln.Addr().String()}
	testnet.Serve(t, ln, time.Minute, func(raw net.Conn) {
		c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version,
			DynamicRecordSizingDisabled: true})
		defer c.Close()
		s.mu.Lock()
		conn := s.conn
		s.conn++
		s.mu.Unlock()
		eachRange(c, func(rng string) bool {
			a, b, _ := strings.Cut(rng, "-")
			first, last := atoi(a), atoi(b)
			s.mu.Lock()
			n := len(s.seen)
			s.seen = append(s.seen, rangeSeen{conn, rng})
			s.mu.Unlock()
			if first >= size {
				c.Write([]byte(fmt.Sprintf("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", size)))
				return false
			}
			last = min(last, size-1)
			hdr := fmt.Sprintf("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n", first, last, size, last-first+1)
			if want := pad[n]; want > 0 {
				hdr += "X-Pad: " + strings.Repeat("p", want-len(hdr)-len("X-Pad: \r\n\r\n")-int(last-first+1)) + "\r\n"
			}
			resp := append([]byte(hdr+"\r\n"), make([]byte, last-first+1)...)
			s.mu.Lock()
			s.most = max(s.most, len(resp))
			s.mu.Unlock()
			_, err := c.Write(resp)
			return err == nil
		})
	})
	return s
}

func (s *oneRecordServer) requests() ([]rangeSeen, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rangeSeen(nil), s.seen...), s.conn, s.most
}

// expectedRanges rebuilds, from the steps MeasureRange reports, the Range
// requests they stand for: each step's requests in sequence from its
// offset with its chunk (cut at the resource's end once the size is
// known), the last chunk as size-chunk..size-1.
func expectedRanges(res *RangeResult) []string {
	var out []string
	known := false // the size, after the first request
	for _, st := range res.Steps {
		if st.Note == "the last chunk" {
			out = append(out, fmt.Sprintf("%d-%d", max(0, res.Size-int64(st.Chunk)), res.Size-1))
			continue
		}
		off := st.Offset
		for range st.Requests {
			last := off + int64(st.Chunk) - 1
			if known && st.Fits {
				last = min(last, res.Size-1)
			}
			known = known || st.Fits
			out = append(out, fmt.Sprintf("%d-%d", off, last))
			off = last + 1
		}
	}
	return out
}

// TestMeasureRangeBoundaries drives MeasureRange against a server whose
// every answer is one record, at each boundary of the chunk arithmetic
// and one past it: a resource that ends exactly with the first chunk or
// one byte after it, an Observe reached exactly by the first chunk or one
// byte short, a first answer above the device's bound by the excess that
// leaves a chunk of 1 or of 0, and device limits at the ends of the
// allowed range. The server's log of Range requests is the oracle.
func TestMeasureRangeBoundaries(t *testing.T) {
	p := newPKI(t, time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name     string
		limit    int
		size     int64
		observe  int64
		pad      map[int]int // request → record content bytes
		want     []string    // ranges the server saw ("conn:first-last")
		chunk    int
		observed int64
		err      error // nil, or what errors.Is must find
		outside  bool  // refused before dialling
	}{
		{name: "size is the first chunk", limit: 2048, size: 512, want: []string{"0:0-511"}, chunk: 512, observed: 512},
		// The second chunk, grown to 1957, ends exactly at the end: no
		// last-chunk request.
		{name: "size ends with the second chunk", limit: 2048, size: 512 + 1957, want: []string{"0:0-511", "0:512-2468"}, chunk: 1957, observed: 2469},
		{name: "size one past the second chunk", limit: 2048, size: 512 + 1957 + 1, observed: 2470},
		// The first request, made before the size is known, asks for more
		// than there is: what was observed is the resource, not the chunk.
		{name: "size one short of the first chunk", limit: 2048, size: 511, want: []string{"0:0-511"}, chunk: 512, observed: 511},
		{name: "size one past the first chunk", limit: 2048, size: 513, want: []string{"0:0-511", "0:512-512", "0:0-512"}, observed: 513},
		{name: "observe reached by the first chunk", limit: 2048, size: 100000, observe: 512,
			want: []string{"0:0-511", "0:99488-99999"}, chunk: 512, observed: 512},
		{name: "observe one past the first chunk", limit: 2048, size: 100000, observe: 513, observed: -1},
		{name: "excess leaves chunk 1", limit: 2048, size: 100000, observe: 1, pad: map[int]int{0: 2048 + 511},
			want: []string{"0:0-511", "1:0-0", "1:99999-99999"}, chunk: 1, observed: 1},
		{name: "excess leaves chunk 0", limit: 2048, size: 100000, observe: 1, pad: map[int]int{0: 2048 + 512},
			want: []string{"0:0-511"}, err: ErrNoChunkFits},
		{name: "excess of one byte", limit: 2048, size: 100000, observe: 1, pad: map[int]int{0: 2048 + 1},
			want: []string{"0:0-511", "1:0-510", "1:99489-99999"}, chunk: 511, observed: 511},
		{name: "smallest device limit", limit: recordlimit.MinRecordSizeLimit, size: 100000, err: ErrNoChunkFits},
		{name: "below the smallest device limit", limit: recordlimit.MinRecordSizeLimit - 1, size: 100000, outside: true},
		{name: "largest device limit", limit: recordlimit.MaxPlaintext, size: 4096, want: []string{"0:0-4095"}, chunk: 4096, observed: 4096},
		{name: "above the largest device limit", limit: recordlimit.MaxPlaintext + 1, size: 4096, outside: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startOneRecordServer(t, p.leaf.TLS(), tls.VersionTLS12, tc.size, tc.pad)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := MeasureRange(ctx, Options{Addr: s.addr, Path: "/fw.bin", DeviceLimit: tc.limit, Observe: tc.observe,
				Config: tlsapp.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12}})
			seen, conns, _ := s.requests()
			if tc.outside {
				if err == nil || !strings.Contains(err.Error(), "outside") || conns != 0 {
					t.Fatalf("limit %d: %v after %d connections, want refused before dialling", tc.limit, err, conns)
				}
				return
			}
			if tc.err != nil || err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("%v, want %v", err, tc.err)
				}
			}
			var got []string
			for _, r := range seen {
				got = append(got, fmt.Sprintf("%d:%s", r.conn, r.rng))
			}
			if tc.want != nil && strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("server saw %q, want %q", got, tc.want)
			}
			if err != nil {
				return
			}
			t.Logf("%+v", res)
			if tc.chunk != 0 && res.Chunk != tc.chunk {
				t.Errorf("chunk %d, want %d", res.Chunk, tc.chunk)
			}
			if tc.observed >= 0 && res.Observed != tc.observed {
				t.Errorf("observed %d, want %d", res.Observed, tc.observed)
			}
			if res.Size != tc.size {
				t.Errorf("size %d, want %d", res.Size, tc.size)
			}
			var plain []string
			for _, r := range seen {
				plain = append(plain, r.rng)
			}
			if want := expectedRanges(res); strings.Join(plain, " ") != strings.Join(want, " ") {
				t.Errorf("server saw %q; the steps %+v stand for %q", plain, res.Steps, want)
			}
			if res.Requests != len(seen) || res.Connections != conns {
				t.Errorf("%d requests on %d connections, the server saw %d on %d", res.Requests, res.Connections, len(seen), conns)
			}
		})
	}
}

// TestMeasureRangeTight: against a server whose answers are one record of
// header and body, over a resource of 10^5 bytes (the last byte's offset
// has one digit fewer than the size), the chunk MeasureRange settles on
// fills the device's limit exactly with the last chunk's header, the
// longest (less a byte when the last byte's offset has a digit more than
// the last chunk's first): the largest record the server wrote is the limit, on one
// connection, and the requests are the steps' in sequence from byte 0 to
// the end.
func TestMeasureRangeTight(t *testing.T) {
	p := newPKI(t, time.Now().Add(time.Hour))
	for _, tc := range []struct {
		version uint16
		limit   int
		size    int64
		slack   int         // bytes the chunk leaves unused
		pad     map[int]int // request → record content bytes
		observe int64
	}{
		{tls.VersionTLS12, 4096, 100000, 0, nil, 0},
		{tls.VersionTLS13, 4096, 100000, 0, nil, 0},
		{tls.VersionTLS12, 4096, 99999, 0, nil, 0},
		// The first chunk is 1000 B, a Content-Length of four digits; the
		// second answer ends what is observed, so the chunk grown after
		// the first is the last chunk's.
		{tls.VersionTLS12, 4000, 100000, 0, nil, 0},
		{tls.VersionTLS12, 4000, 100000, 0, nil, 2000},
		// The first answer fills the limit exactly, leaving no room to
		// grow; the chunk grows from 512 to four digits after the second,
		// at offset 512.
		{tls.VersionTLS12, 2048, 100000, 0, map[int]int{0: 2048}, 0},
		// The last byte's offset, 100000, has a digit more than the last
		// chunk's first, 97098: the margin for it is one byte too many.
		{tls.VersionTLS12, 3000, 100001, 1, nil, 0},
	} {
		t.Run(fmt.Sprintf("%s limit %d size %d pad %v observe %d", versionName(tc.version), tc.limit, tc.size, tc.pad, tc.observe), func(t *testing.T) {
			s := startOneRecordServer(t, p.leaf.TLS(), tc.version, tc.size, tc.pad)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := MeasureRange(ctx, Options{Addr: s.addr, Path: "/fw.bin", DeviceLimit: tc.limit, Observe: tc.observe,
				Config: tlsapp.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MinVersion: tc.version, MaxVersion: tc.version}})
			if err != nil {
				t.Fatalf("%v (%+v)", err, res)
			}
			seen, conns, most := s.requests()
			t.Logf("chunk %d, header %d, %d requests, steps %+v", res.Chunk, res.HeaderBytes, len(seen), res.Steps)
			if conns != 1 || res.Connections != 1 {
				t.Errorf("%d connections (measured %d), want one", conns, res.Connections)
			}
			if most != tc.limit-tc.slack {
				t.Errorf("largest answer %d B, want the device limit %d less %d", most, tc.limit, tc.slack)
			}
			if tail := res.Steps[len(res.Steps)-1]; tail.Note != "the last chunk" || tail.Chunk != res.Chunk ||
				tail.Largest-tail.HeaderBytes-res.Chunk != res.Bound-tc.limit || res.Chunk+tail.HeaderBytes != tc.limit-tc.slack {
				t.Errorf("last step %+v: want the last chunk of %d B whose header fills the limit %d (bound %d)", tail, res.Chunk, tc.limit, res.Bound)
			}
			if tc.observe == 0 && (res.Observed != tc.size || res.UnknownBeyond() != -1) {
				t.Errorf("observed %d of %d, unknown beyond %d", res.Observed, tc.size, res.UnknownBeyond())
			}
			if tc.observe > 0 && (res.Observed < tc.observe || res.Observed >= tc.size || res.UnknownBeyond() != res.Observed) {
				t.Errorf("observed %d of %d, unknown beyond %d; want from %d on", res.Observed, tc.size, res.UnknownBeyond(), tc.observe)
			}
			var plain []string
			for _, r := range seen {
				plain = append(plain, r.rng)
			}
			if want := expectedRanges(res); strings.Join(plain, " ") != strings.Join(want, " ") {
				t.Errorf("server saw %q; the steps stand for %q", plain, want)
			}
			next := int64(0)
			for _, r := range seen[:len(seen)-1] {
				a, b, _ := strings.Cut(r.rng, "-")
				if atoi(a) != next {
					t.Fatalf("request %s after byte %d: not in sequence", r.rng, next-1)
				}
				next = atoi(b) + 1
			}
		})
	}
}

func TestUnknownBeyond(t *testing.T) {
	for _, tc := range []struct{ observed, size, want int64 }{
		{9, 10, 9}, {10, 10, -1}, {11, 10, -1}, {0, 1, 0},
	} {
		r := RangeResult{Observed: tc.observed, Size: tc.size}
		if got := r.UnknownBeyond(); got != tc.want {
			t.Errorf("observed %d of %d: %d, want %d", tc.observed, tc.size, got, tc.want)
		}
	}
}

// TestHeaderWatch writes responses to a headerWatch in the pieces given:
// the header's end is found at exactly maxHeader and not one byte past,
// wherever the writes split it, and the status is the status line's
// second field, reason phrase or not.
func TestHeaderWatch(t *testing.T) {
	long := func(n int) string { // a header of exactly n bytes
		h := "HTTP/1.1 200 OK\r\nX: "
		return h + strings.Repeat("a", n-len(h)-4) + "\r\n\r\n"
	}
	for _, tc := range []struct {
		name       string
		pieces     []string
		end, state int
	}{
		{"206", []string{"HTTP/1.1 206 Partial Content\r\nA: b\r\n\r\nbody"}, 38, 206},
		{"no reason phrase", []string{"HTTP/1.1 204\r\n\r\n"}, 16, 204},
		{"status line of one field", []string{"HTTP/1.1\r\n\r\n"}, 12, 0},
		{"blank line first", []string{"\r\n\r\n"}, 4, 0},
		{"split in the blank line", []string{"HTTP/1.1 200 OK\r\n\r", "\n", "body", "HTTP/1.1 500 x\r\n\r\n"}, 19, 200},
		{"one byte a write", strings.Split("HTTP/1.0 404 Not Found\r\n\r\n", ""), 26, 404},
		{"ends at maxHeader", []string{long(maxHeader)}, maxHeader, 200},
		{"ends at maxHeader in pieces", []string{long(maxHeader)[:maxHeader-3], long(maxHeader)[maxHeader-3:] + "tail"}, maxHeader, 200},
		{"ends one past maxHeader", []string{long(maxHeader + 1)}, 0, 0},
		{"ends one past maxHeader in pieces", []string{long(maxHeader + 1)[:maxHeader], long(maxHeader + 1)[maxHeader:]}, 0, 0},
		{"ends one past maxHeader, cut early", []string{long(maxHeader + 1)[:10], long(maxHeader + 1)[10:]}, 0, 0},
		{"nothing", nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &headerWatch{}
			for _, p := range tc.pieces {
				if n, err := h.Write([]byte(p)); n != len(p) || err != nil {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if h.end != tc.end || h.status != tc.state {
				t.Errorf("end %d, status %d; want %d, %d", h.end, h.status, tc.end, tc.state)
			}
			if len(h.buf) > maxHeader {
				t.Errorf("kept %d bytes", len(h.buf))
			}
		})
	}
}

// TestFill: what an attempt reports in its Connection, at the edges: no
// version (the one set before stays), the trace's empty maps, a body
// length that is never negative.
func TestFill(t *testing.T) {
	for _, tc := range []struct {
		name        string
		version     uint16
		sent        map[string]int
		read        int64
		header      int
		wantVersion string
		wantBody    int64
	}{
		{"no version", 0, nil, 10, 20, "TLS 1.3", 0},
		{"TLS 1.2", tls.VersionTLS12, map[string]int{"handshake": 300}, 20, 20, "TLS 1.2", 0},
		{"one body byte", tls.VersionTLS12, nil, 21, 20, "TLS 1.2", 1},
		{"no header", tls.VersionTLS12, nil, 7, 0, "TLS 1.2", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &attempt{read: tc.read, header: tc.header}
			a.rs.Version = tc.version
			a.trace.largest[tlsapp.Sent] = tc.sent
			c := Connection{Version: "TLS 1.3", VersionCode: tls.VersionTLS13}
			a.fill(&c)
			if c.Version != tc.wantVersion {
				t.Errorf("version %q, want %q", c.Version, tc.wantVersion)
			}
			if c.BodyBytes != tc.wantBody || c.ResponseBytes != tc.read || c.HeaderBytes != tc.header {
				t.Errorf("body %d, response %d, header %d; want %d, %d, %d", c.BodyBytes, c.ResponseBytes, c.HeaderBytes, tc.wantBody, tc.read, tc.header)
			}
			if c.Largest.Sent == nil || c.Largest.Received == nil {
				t.Errorf("nil maps: %+v", c.Largest)
			}
			if fmt.Sprint(c.Largest.Sent) != fmt.Sprint(tc.sent) && tc.sent != nil {
				t.Errorf("sent %v, want %v", c.Largest.Sent, tc.sent)
			}
		})
	}
}

func TestSuiteName(t *testing.T) {
	for s, want := range map[uint16]string{0: "", tls.TLS_AES_128_GCM_SHA256: "TLS_AES_128_GCM_SHA256"} {
		if got := suiteName(s); got != want {
			t.Errorf("suiteName(%#x) = %q, want %q", s, got, want)
		}
	}
}

// TestConnectReset: a connection the server resets after its answer is
// reported with the error; one it closes with close_notify is not.
func TestConnectReset(t *testing.T) {
	for _, tc := range []struct {
		end     httpscript.End
		wantErr bool
	}{{httpscript.CloseNotify, false}, {httpscript.Reset, true}} {
		srv := httpscript.Start(t, httpscript.Seq(httpscript.Response{Status: 200,
			Header: [][2]string{{"Content-Length", "5000"}}, Body: make([]byte, 5000), End: tc.end}))
		o := Options{Addr: srv.Addr(), Config: tlsapp.Config{RootCAs: srv.Pool()}}
		if err := o.defaults(); err != nil {
			t.Fatal(err)
		}
		a := o.connect(context.Background(), "test", o.config(tls.VersionTLS12), "/")
		if (a.err != nil) != tc.wantErr || a.hsErr {
			t.Errorf("end %d: error %v (handshake %v), want an error: %v", tc.end, a.err, a.hsErr, tc.wantErr)
		}
	}
}

// TestLimitCaseBrokenAgreement: a server that agrees to
// max_fragment_length 512 and then sends its Certificate in one larger
// record: the case is violated and names the value agreed, 512.
func TestLimitCaseBrokenAgreement(t *testing.T) {
	p := newPKI(t, time.Now().Add(time.Hour))
	srv := &scripted.Server12{Chain: [][]byte{p.leaf.Cert.Raw, p.ca.Cert.Raw}, Key: p.leaf.Key, AnswerMFL: true,
		WholeCertificate: true, Body: []byte("x")}
	addr := scripted.ServeEach(t, srv.Serve)
	o := Options{Addr: addr, Config: tlsapp.Config{RootCAs: p.pool}}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	c := Connection{Version: "TLS 1.2", VersionCode: tls.VersionTLS12, Extension: ExtMaxFragmentLength, Limit: 512}
	o.limitCase(context.Background(), &c)
	if c.Result != ResultViolated || c.AgreedValue != 512 || c.ViolatingType != "handshake" {
		t.Errorf("%s, agreed %d, violated by %q; want violated, 512, handshake", c.Result, c.AgreedValue, c.ViolatingType)
	}
}
