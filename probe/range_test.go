package probe

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// recordRelay is an independent witness between the probe and a server: it
// parses the record headers the server sends and keeps the largest per
// connection.
type recordRelay struct {
	addr    string
	mu      sync.Mutex
	largest []int
}

func startRecordRelay(t *testing.T, target string) *recordRelay {
	r := &recordRelay{}
	r.addr = testnet.Relay(t, target, time.Minute, func(c, s net.Conn) {
		r.mu.Lock()
		i := len(r.largest)
		r.largest = append(r.largest, 0)
		r.mu.Unlock()
		go func() { io.Copy(s, c); s.Close() }()
		hdr := make([]byte, 5)
		for {
			if _, err := io.ReadFull(s, hdr); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(hdr[3:]))
			body := make([]byte, n)
			if _, err := io.ReadFull(s, body); err != nil {
				return
			}
			r.mu.Lock()
			r.largest[i] = max(r.largest[i], n)
			r.mu.Unlock()
			if _, err := c.Write(append(hdr, body...)); err != nil {
				return
			}
		}
	})
	return r
}

func (r *recordRelay) perConn() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.largest...)
}

// TestMeasureRangeKeptAlive is the range check of issue 18: against Go's
// crypto/tls (records sized by each write, growing with the connection's
// age) and tlsapp's listener capped at 16384 (records as large as each
// answer), in both versions, MeasureRange for a 2048-byte device measures
// on one kept-alive connection, past the first 128 KiB, and the
// independent relay sees no server record above the bound on it: the
// measuring connection itself fits the device. The chunk it reports leaves
// room for the response header.
func TestMeasureRangeKeptAlive(t *testing.T) {
	const limit = 2048
	p := newPKI(t, time.Now().Add(time.Hour))
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	for _, srv := range []struct {
		name      string
		maxRecord int
	}{{"Go crypto-tls", 0}, {"tlsapp listener 16384", 16384}} {
		addr := httpServer(t, p.leaf.TLS(), srv.maxRecord, body)
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(srv.name+" "+versionName(v), func(t *testing.T) {
				rl := startRecordRelay(t, addr)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				res, err := MeasureRange(ctx, Options{Addr: rl.addr, Path: "/fw.bin", DeviceLimit: limit,
					Config: tlsapp.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MinVersion: v, MaxVersion: v}})
				if err != nil {
					t.Fatalf("%v (%+v)", err, res)
				}
				t.Logf("chunk %d, bound %d, observed %d of %d, %d requests, %d connection(s), header %d, largest %d, steps %+v",
					res.Chunk, res.Bound, res.Observed, res.Size, res.Requests, res.Connections, res.HeaderBytes, res.LargestRecord, res.Steps)
				if res.Connections != 1 {
					t.Errorf("%d connections, want one kept alive", res.Connections)
				}
				if res.Observed < EvidenceBytes || res.Size != int64(len(body)) {
					t.Errorf("observed %d of %d, want at least %d", res.Observed, res.Size, EvidenceBytes)
				}
				if res.Chunk < limit-400 || res.Chunk > limit-res.HeaderBytes {
					t.Errorf("chunk %d for a %d B header", res.Chunk, res.HeaderBytes)
				}
				per := rl.perConn()
				if len(per) != 1 {
					t.Fatalf("the relay saw %d connections", len(per))
				}
				if per[0] > res.Bound || per[0] != res.LargestRecord {
					t.Errorf("relay: largest server record %d; bound %d, measured %d", per[0], res.Bound, res.LargestRecord)
				}
				// Within a few bytes of the bound: the chunk is as large as fits.
				if per[0] < res.Bound-16 {
					t.Errorf("largest record %d, far below the bound %d: the chunk could be larger", per[0], res.Bound)
				}
				if last := res.Steps[len(res.Steps)-1]; last.Note != "the last chunk" || !last.Fits {
					t.Errorf("last step %+v, want the last chunk checked", last)
				}
			})
		}
	}
}

// TestMeasureRangeShrinks: against a server whose records grow past the
// bound in the middle of the resource (each answer after the first 300 KiB
// comes in a single record of the chunk and header, and the stretch before
// in records of at most 1024 B), the measurement's connection fails as the
// device's would, and it goes on from the same offset with a smaller chunk
// on a new connection.
func TestMeasureRangeShrinks(t *testing.T) {
	p := newPKI(t, time.Now().Add(time.Hour))
	body := make([]byte, 400<<10)
	addr := growingServer(t, p.leaf.TLS(), body, 300<<10, 1024)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := MeasureRange(ctx, Options{Addr: addr, Path: "/fw.bin", DeviceLimit: 2048, Observe: 400 << 10,
		Config: tlsapp.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	var failed *RangeStep
	for i := range res.Steps {
		if !res.Steps[i].Fits {
			failed = &res.Steps[i]
		}
	}
	if failed == nil || failed.Offset < 300<<10-4096 || res.Connections != 2 {
		t.Fatalf("steps %+v, %d connections: want one failure after 300 KiB and a second connection", res.Steps, res.Connections)
	}
	if res.Chunk >= failed.Chunk || res.Chunk+res.HeaderBytes > 2048 {
		t.Errorf("chunk %d after a failure at %d (header %d)", res.Chunk, failed.Chunk, res.HeaderBytes)
	}
	if !strings.Contains(failed.Note, "above the 2072 B the device holds") {
		t.Errorf("note %q", failed.Note)
	}
}

// growingServer serves body with Range support over TLS 1.2 through
// tlsapp's listener: answers that start below from come in records of at
// most small bytes, later ones as one record each (up to 16384).
func growingServer(t *testing.T, cert tls.Certificate, body []byte, from int64, small int) string {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, inner, time.Minute, func(raw net.Conn) {
		c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12,
			DynamicRecordSizingDisabled: true})
		defer c.Close()
		eachRange(c, func(rng string) bool {
			a, b, _ := strings.Cut(rng, "-")
			first, last := atoi(a), atoi(b)
			last = min(last, int64(len(body))-1)
			resp := append([]byte("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes "+itoa(first)+"-"+itoa(last)+"/"+itoa(int64(len(body)))+
				"\r\nContent-Length: "+itoa(last-first+1)+"\r\n\r\n"), body[first:last+1]...)
			step := len(resp)
			if first < from {
				step = small
			}
			for len(resp) > 0 {
				n := min(step, len(resp))
				if _, err := c.Write(resp[:n]); err != nil {
					return false
				}
				resp = resp[n:]
			}
			return true
		})
	})
	return inner.Addr().String()
}

// eachRange reads HTTP/1.1 requests from c one after another and calls
// answer with each one's Range value after "bytes=" ("" without one), until
// answer returns false or c ends.
func eachRange(c io.Reader, answer func(rng string) bool) {
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		i := strings.Index(string(buf), "\r\n\r\n")
		if i < 0 {
			n, err := c.Read(tmp)
			if err != nil {
				return
			}
			buf = append(buf, tmp[:n]...)
			continue
		}
		req := string(buf[:i])
		buf = buf[i+4:]
		rng := ""
		for _, l := range strings.Split(req, "\r\n") {
			if v, ok := strings.CutPrefix(l, "Range: bytes="); ok {
				rng = v
			}
		}
		if !answer(rng) {
			return
		}
	}
}

func atoi(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestRunMbedTLSLike is the check of issue 18, item 4: against a scripted
// mbedTLS 2.28-like server (TLS 1.2 only; echoes max_fragment_length, then
// sends its Certificate in one record of the chain's size, which breaks
// MFL 512 and keeps the larger ones), the verdict for a 512-byte device
// names the broken agreement, not "answers neither extension"; for a
// 2048-byte device it recommends MFL 2048, the largest kept.
func TestRunMbedTLSLike(t *testing.T) {
	p := newPKI(t, time.Now().Add(time.Hour))
	srv := &scripted.Server12{Chain: [][]byte{p.leaf.Cert.Raw, p.ca.Cert.Raw}, Key: p.leaf.Key, AnswerMFL: true,
		WholeCertificate: true, Body: make([]byte, 200<<10)}
	addr := scripted.ServeEach(t, srv.Serve)
	r := runProbe(t, addr, tlsapp.Config{RootCAs: p.pool})
	if r.Failure != nil {
		t.Fatalf("failure %+v", r.Failure)
	}
	certRecord := 0
	for _, c := range r.Cases {
		t.Logf("%s %s %d: %s, largest %d (plaintext %d, protected %d), bound %d %s", c.Version, c.Extension, c.Limit, c.Result,
			c.LargestReceived, c.LargestPlaintext, c.LargestProtected, c.Bound, c.Error)
		if c.Version == "TLS 1.2" && c.Extension == ExtMaxFragmentLength && c.Limit == 512 {
			certRecord = c.LargestPlaintext
			if c.Result != ResultViolated || c.ViolatingType != "handshake" {
				t.Errorf("MFL 512: %s (%s), want violated by a handshake record", c.Result, c.ViolatingType)
			}
		}
	}
	if certRecord <= 512 {
		t.Fatalf("the Certificate record is %d B, not above 512", certRecord)
	}
	v := r.Verdict(512)
	for _, want := range []string{"agrees to max_fragment_length 512 in TLS 1.2 and then breaks the agreement", "handshake record"} {
		if v.Kind != Fails || !strings.Contains(v.Summary, want) {
			t.Errorf("512: %+v, want %q", v, want)
		}
	}
	if strings.Contains(v.Summary, "neither") {
		t.Errorf("512: the reason says the server answers neither extension: %s", v.Summary)
	}
	if len(v.Remedies) != 3 {
		t.Errorf("remedies %+v", v.Remedies)
	}
	if v := r.Verdict(2048); v.Kind != WorksAgreed || !strings.Contains(v.Recommend, "max_fragment_length 2048 with TLS 1.2") {
		t.Errorf("2048: %+v", v)
	}
}

// TestMeasureRangeNoRange: a server that answers a Range request with 200
// gives ErrNoRange, and one whose handshake does not fit the device
// ErrNoChunkFits.
func TestMeasureRangeNoRange(t *testing.T) {
	p := newPKI(t, time.Now().Add(time.Hour))
	srv := &scripted.Server12{Chain: [][]byte{p.leaf.Cert.Raw, p.ca.Cert.Raw}, Key: p.leaf.Key, Body: []byte("whole")}
	addr := scripted.ServeEach(t, srv.Serve)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := Options{Addr: addr, DeviceLimit: 2048, Config: tlsapp.Config{RootCAs: p.pool}}
	if _, err := MeasureRange(ctx, o); !errors.Is(err, ErrNoRange) {
		t.Errorf("200 for a Range: %v, want ErrNoRange", err)
	}
	o.DeviceLimit = 512 // the Certificate record is above it
	if _, err := MeasureRange(ctx, o); !errors.Is(err, ErrNoChunkFits) || !strings.Contains(err.Error(), "handshake") {
		t.Errorf("handshake above the limit: %v, want ErrNoChunkFits naming the handshake", err)
	}
}
