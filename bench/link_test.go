package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/tlsapp"
)

var linkFlag = flag.Bool("link", false, "BenchmarkLink: run the emulated cellular links (minutes) instead of the quick loopback profile")

// linkProfile is an emulated link: round-trip time, rate in bits per
// second in each direction, and the image downloaded over it.
type linkProfile struct {
	name string
	rtt  time.Duration
	bps  int64
	size int
}

var (
	// LTE-M-like and NB-IoT-like links; the NB-IoT image is smaller so that
	// the Range cases end within minutes.
	cellularLinks = []linkProfile{
		{"lte-m", 100 * time.Millisecond, 1_000_000, 1 << 20},
		{"nb-iot", 1200 * time.Millisecond, 60_000, 64 << 10},
	}
	// smokeLink keeps BenchmarkLink short without -link.
	smokeLink = linkProfile{"smoke", 2 * time.Millisecond, 50_000_000, 64 << 10}
)

// linkMethod is one way to download the image.
type linkMethod struct {
	name     string
	mfl, rsl int
	chunk    int // Range chunk; 0: one request
}

var linkMethods = []linkMethod{
	{name: "16k"}, // the baseline: 16 KiB records, one request
	{name: "rsl2048", rsl: 2048},
	{name: "mfl2048", mfl: 2048},
	{name: "range2048", chunk: 2048},
	{name: "range1792", chunk: 1792},
	{name: "range1024", chunk: 1024},
}

// BenchmarkLink downloads an image over an emulated cellular link (a relay
// on 127.0.0.1 with per-direction delay and rate, see shapedRelay) from Go's
// net/http behind tlsapp.NewListener, which keeps its records within what
// the client offers: 16 KiB records; record_size_limit or
// max_fragment_length 2048 in one request; and, offering nothing, HTTP
// Range requests of 2048, 1792 and 1024 bytes on one keep-alive connection
// (the workaround of modems that keep their own TLS). Per op it reports
// the time (ns/op), the bytes on the wire both ways (TCP payload), the
// largest server record, and both as ratios to the 16 KiB baseline of the
// same run (x-time, x-bytes). Without -link it runs a quick loopback
// profile; with -link the LTE-M-like (100 ms, 1 Mbit/s, 1 MiB) and
// NB-IoT-like (1.2 s, 60 kbit/s, 64 KiB) links, about 8 minutes:
//
//	go test -run '^$' -bench Link -benchtime 1x ./bench/ -link
func BenchmarkLink(b *testing.B) {
	profiles := []linkProfile{smokeLink}
	if *linkFlag {
		profiles = cellularLinks
	}
	p := testPKI(b)
	for _, lp := range profiles {
		image := make([]byte, lp.size)
		rand.Read(image)
		srv := linkServer(b, p, image)
		var baseTime, baseBytes float64
		for _, m := range linkMethods {
			b.Run(fmt.Sprintf("link=%s/method=%s", lp.name, m.name), func(b *testing.B) {
				var last linkResult
				for range b.N {
					r := newShapedRelay(b, srv, lp.rtt/2, lp.bps)
					res, err := linkDownload(r, p, m, image)
					if err != nil {
						b.Fatal(err)
					}
					last = res
				}
				secs := b.Elapsed().Seconds() / float64(b.N)
				wire := float64(last.up + last.down)
				if m.name == "16k" {
					baseTime, baseBytes = secs, wire
				}
				b.ReportMetric(wire, "wire-B/op")
				b.ReportMetric(float64(last.largest), "largest-B")
				b.ReportMetric(float64(last.requests), "requests/op")
				if baseTime > 0 {
					b.ReportMetric(secs/baseTime, "x-time")
					b.ReportMetric(wire/baseBytes, "x-bytes")
				}
			})
		}
	}
}

// linkServer serves image at /fw.bin over HTTPS: net/http over crypto/tls
// behind tlsapp.NewListener (records within what the client offers, 16 KiB
// otherwise).
func linkServer(tb testing.TB, p *pki, image []byte) string {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ln := tlsapp.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{p.Server}, NextProtos: []string{"http/1.1"}}, tlsapp.ServerOptions{})
	mod := time.Unix(1700000000, 0)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "fw.bin", mod, bytes.NewReader(image))
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return inner.Addr().String()
}

type linkResult struct {
	up, down, largest int64
	requests          int
}

// linkDownload fetches the image through the relay with method m and
// checks it.
func linkDownload(r *shapedRelay, p *pki, m linkMethod, image []byte) (linkResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cfg := &tlsapp.Config{ServerName: "localhost", RootCAs: p.Pool, MaxFragmentLength: m.mfl, RecordSizeLimit: m.rsl}
	tr := &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return tlsapp.Dial(ctx, network, addr, cfg)
	}, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "https://" + r.addr() + "/fw.bin"
	var got bytes.Buffer
	res := linkResult{}
	for off := 0; off < len(image); {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return res, err
		}
		end := len(image)
		if m.chunk > 0 {
			end = min(len(image), off+m.chunk)
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end-1))
		}
		resp, err := client.Do(req)
		if err != nil {
			return res, err
		}
		n, err := io.Copy(&got, resp.Body)
		resp.Body.Close()
		res.requests++
		if err != nil {
			return res, err
		}
		if want := int64(end - off); n != want {
			return res, fmt.Errorf("request %d: %d bytes, want %d (%s)", res.requests, n, want, resp.Status)
		}
		off = end
	}
	if !bytes.Equal(got.Bytes(), image) {
		return res, fmt.Errorf("the image differs")
	}
	tr.CloseIdleConnections()
	res.up, res.down, res.largest = r.up.Load(), r.down.Load(), r.largest.Load()
	return res, nil
}

// shapedRelay is an emulated link between a client and target over real
// TCP on 127.0.0.1: in each direction every byte waits for the link to be
// free, takes 8/bps seconds to cross it, then oneWay more, as on a
// bottleneck link with a deep buffer. It counts the bytes each way and
// parses the record headers the server sends.
type shapedRelay struct {
	address  string
	oneWay   time.Duration
	bps      int64
	up, down atomic.Int64
	largest  atomic.Int64
}

func newShapedRelay(tb testing.TB, target string, oneWay time.Duration, bps int64) *shapedRelay {
	r := &shapedRelay{oneWay: oneWay, bps: bps}
	// No deadline: a download over the slowest link takes minutes.
	r.address = testnet.Relay(tb, target, 0, func(c, s net.Conn) {
		done := make(chan struct{})
		go func() { defer close(done); r.pipe(s, c, &r.up, false) }()
		r.pipe(c, s, &r.down, true)
		<-done
	})
	return r
}

func (r *shapedRelay) addr() string { return r.address }

// chunk is data that reaches the far end at due.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe carries src to dst through the emulated link.
func (r *shapedRelay) pipe(dst, src net.Conn, count *atomic.Int64, records bool) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		var free time.Time // when the link has sent everything queued
		buf := make([]byte, 16<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				now := time.Now()
				if free.Before(now) {
					free = now
				}
				free = free.Add(time.Duration(int64(n) * 8 * int64(time.Second) / r.bps))
				q <- chunk{append([]byte(nil), buf[:n]...), free.Add(r.oneWay)}
			}
			if err != nil {
				return
			}
		}
	}()
	var sc headerScan
	for c := range q {
		time.Sleep(time.Until(c.due))
		count.Add(int64(len(c.data)))
		if records {
			sc.scan(c.data, func(n int) {
				if int64(n) > r.largest.Load() {
					r.largest.Store(int64(n))
				}
			})
		}
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	for range q { // drain after a write error
	}
}

// headerScan finds TLS record headers in a byte stream, across any split.
type headerScan struct {
	hdr  [5]byte
	nh   int
	left int
}

func (s *headerScan) scan(b []byte, record func(n int)) {
	for len(b) > 0 {
		if s.left > 0 {
			k := min(s.left, len(b))
			s.left -= k
			b = b[k:]
			continue
		}
		k := copy(s.hdr[s.nh:], b)
		s.nh += k
		b = b[k:]
		if s.nh == 5 {
			s.nh = 0
			s.left = int(s.hdr[3])<<8 | int(s.hdr[4])
			record(s.left)
		}
	}
}

// TestShapedRelay checks the emulated link against its definition: 100 KB
// at 8 Mbit/s with a one-way delay of 20 ms arrive after 100 ms + 20 ms,
// and the relay counts every byte.
func TestShapedRelay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 100_000
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(make([]byte, n))
	}()
	r := newShapedRelay(t, ln.Addr().String(), 20*time.Millisecond, 8_000_000)
	start := time.Now()
	c, err := net.Dial("tcp", r.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.Copy(io.Discard, c)
	d := time.Since(start)
	if got != n || err != nil {
		t.Fatalf("%d bytes, %v", got, err)
	}
	if d < 120*time.Millisecond || d > 400*time.Millisecond {
		t.Errorf("took %v, want about 120 ms", d)
	}
	if r.down.Load() != n {
		t.Errorf("counted %d bytes", r.down.Load())
	}
}
