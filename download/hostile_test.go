package download_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/internal/httpscript"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// scripted starts an httpscript server answering with rs in turn and
// returns it with the URL of /fw.bin and options that trust it.
func scripted(t *testing.T, rs ...httpscript.Response) (*httpscript.Server, string, download.Options) {
	t.Helper()
	srv := httpscript.Start(t, httpscript.Seq(rs...))
	return srv, srv.URL("/fw.bin"), download.Options{
		Dialer:  &tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: srv.Pool()}},
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}
}

type hdr = [2]string

func etagH(v string) hdr       { return hdr{"ETag", v} }
func lengthH(n int) hdr        { return hdr{"Content-Length", strconv.Itoa(n)} }
func lastModH(t time.Time) hdr { return hdr{"Last-Modified", t.UTC().Format(http.TimeFormat)} }
func dateH(t time.Time) hdr    { return hdr{"Date", t.UTC().Format(http.TimeFormat)} }
func rangeH(first, last, complete int) hdr {
	return hdr{"Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, complete)}
}

// bounded watches the partial file of a download: check, run as the
// Progress callback, records the largest size the file had on disk and
// cancels the download once it is above the bound, as the test would
// otherwise run without end.
type bounded struct {
	part   string
	bound  int64
	cancel context.CancelFunc
	mu     sync.Mutex
	max    int64
}

func (b *bounded) check(done, total int64) {
	st, err := os.Stat(b.part)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.max = max(b.max, st.Size())
	if st.Size() > b.bound {
		b.cancel()
	}
}

// TestHostileServer answers downloads with the lies of issue 17 (items 1,
// 2 and 4), one scripted response per request, over HTTP/1.1 on TLS: a
// download ends with exactly the representation a complete answer gave, or
// with a typed error and no file; and the partial file never holds more
// than the size known (Options.Size, or the Content-Length seen first).
func TestHostileServer(t *testing.T) {
	v1, v2, lie := random(t, 1000), random(t, 1000), random(t, 1500)
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	// The first answer: v1 under ETag "A" (or a strong Last-Modified),
	// cut after 500 bytes.
	cutA := httpscript.Response{Status: 200, Header: []hdr{etagH(`"A"`), lengthH(1000)}, Body: v1[:500], End: httpscript.Drop}
	cutLM := httpscript.Response{Status: 200, Header: []hdr{lastModH(t0), dateH(t0.Add(time.Hour)), lengthH(1000)}, Body: v1[:500], End: httpscript.Drop}
	wholeA := httpscript.Response{Status: 200, Header: []hdr{etagH(`"A"`), lengthH(1000)}, Body: v1}
	wholeB := httpscript.Response{Status: 200, Header: []hdr{etagH(`"B"`), lengthH(1000)}, Body: v2}
	tail := func(h ...hdr) httpscript.Response {
		return httpscript.Response{Status: 206, Header: append(h, rangeH(500, 999, 1000), lengthH(500)), Body: v2[500:]}
	}
	chunked200 := func(body []byte) httpscript.Response {
		return httpscript.Response{Status: 200, Header: []hdr{etagH(`"A"`)}, Body: body, Chunked: true, ChunkSize: 100}
	}
	endless := httpscript.Forever([]byte("endless "))
	isChanged := func(err error) bool {
		var ce *download.ChangedError
		return errors.As(err, &ce) && errors.Is(err, download.ErrChanged)
	}
	isSize := func(err error) bool {
		var se *download.SizeError
		return errors.As(err, &se) && se.Want == 1000 && se.Got != 1000 && (!se.AtLeast || se.Got > 1000)
	}
	isProtocol := func(err error) bool { var pe *download.ProtocolError; return errors.As(err, &pe) }

	type tc struct {
		name      string
		rs        []httpscript.Response
		size      int64 // Options.Size
		noRestart bool
		want      []byte           // the file on success
		wantErr   func(error) bool // or the error
	}
	var cases []tc
	// Item 1: the retry gets a 200 with the same ETag and a chunked body
	// of another length. A strong validator binds the size: the resource
	// changed (or the server lies), and the download starts over.
	for _, n := range []int{0, 300, 700, 1500} {
		rs := []httpscript.Response{cutA, chunked200(lie[:n]), wholeA}
		cases = append(cases,
			tc{name: fmt.Sprintf("same ETag, chunked 200 of %d", n), rs: rs, want: v1},
			tc{name: fmt.Sprintf("same ETag, chunked 200 of %d, no restart", n), rs: rs, noRestart: true, wantErr: isChanged})
	}
	cases = append(cases,
		// Item 2: a known size stops the body at its first byte past it.
		tc{name: "Size 1000, endless chunked 200", rs: []httpscript.Response{{Status: 200, Header: []hdr{etagH(`"A"`)}, Stream: endless, Chunked: true}}, size: 1000, wantErr: isSize},
		tc{name: "Size 1000, endless 200 to the close", rs: []httpscript.Response{{Status: 200, Header: []hdr{etagH(`"A"`)}, Stream: endless}}, size: 1000, wantErr: isSize},
		tc{name: "Size 1000, 1001 bytes chunked", rs: []httpscript.Response{{Status: 200, Body: lie[:1001], Chunked: true}}, size: 1000, wantErr: isSize},
		tc{name: "Size 1000, 1000 bytes chunked", rs: []httpscript.Response{{Status: 200, Body: v1, Chunked: true}}, size: 1000, want: v1},
		tc{name: "Size 1000, Content-Length 1000", rs: []httpscript.Response{wholeA}, size: 1000, want: v1},
		tc{name: "Size 1000, Content-Length 1001", rs: []httpscript.Response{{Status: 200, Header: []hdr{etagH(`"A"`), lengthH(1001)}, Body: lie[:1001]}}, size: 1000, wantErr: isSize},
		tc{name: "an empty representation", rs: []httpscript.Response{{Status: 200, Header: []hdr{etagH(`"E"`), lengthH(0)}}}, want: []byte{}},
		tc{name: "Content-Length 1000 seen, endless chunked 200 with the same ETag", rs: []httpscript.Response{cutA, {Status: 200, Header: []hdr{etagH(`"A"`)}, Stream: endless, Chunked: true}, wholeA}, want: v1},
		tc{name: "Content-Length 1000 seen, endless chunked 200 with the same ETag, no restart", rs: []httpscript.Response{cutA, {Status: 200, Header: []hdr{etagH(`"A"`)}, Stream: endless, Chunked: true}}, noRestart: true, wantErr: isChanged},
		tc{name: "endless chunked 206", rs: []httpscript.Response{cutA, {Status: 206, Header: []hdr{etagH(`"A"`), rangeH(500, 999, 1000)}, Stream: endless, Chunked: true}}, wantErr: isProtocol},
		tc{name: "chunked 206 one byte longer than its range", rs: []httpscript.Response{cutA, {Status: 206, Header: []hdr{etagH(`"A"`), rangeH(500, 999, 1000)}, Body: append(v1[500:1000:1000], 'x'), Chunked: true, ChunkSize: 300}}, wantErr: isProtocol},
		tc{name: "chunked 206 as long as its range", rs: []httpscript.Response{cutA, {Status: 206, Header: []hdr{etagH(`"A"`), rangeH(500, 999, 1000)}, Body: v1[500:], Chunked: true}}, want: v1},
		// Item 4: a 206 that does not show the validator sent in
		// If-Range is not appended.
		tc{name: "206 without ETag", rs: []httpscript.Response{cutA, tail(), wholeB}, want: v2},
		tc{name: "206 without ETag, no restart", rs: []httpscript.Response{cutA, tail()}, noRestart: true, wantErr: isChanged},
		tc{name: "206 with another ETag", rs: []httpscript.Response{cutA, tail(etagH(`"B"`)), wholeB}, want: v2},
		tc{name: "206 with a weak ETag", rs: []httpscript.Response{cutA, tail(etagH(`W/"A"`)), wholeB}, want: v2},
		tc{name: "206 with two ETags", rs: []httpscript.Response{cutA, tail(etagH(`"A"`), etagH(`"B"`)), wholeB}, want: v2},
		tc{name: "206 with the same ETag and another size", rs: []httpscript.Response{cutA, {Status: 206, Header: []hdr{etagH(`"A"`), rangeH(500, 999, 1200), lengthH(500)}, Body: v2[500:]}, wholeB}, want: v2},
		tc{name: "206 without Last-Modified", rs: []httpscript.Response{cutLM, tail(), wholeB}, want: v2},
		tc{name: "206 with another Last-Modified", rs: []httpscript.Response{cutLM, tail(lastModH(t0.Add(time.Minute))), wholeB}, want: v2},
		tc{name: "206 with the same Last-Modified", rs: []httpscript.Response{cutLM, {Status: 206, Header: []hdr{lastModH(t0), rangeH(500, 999, 1000), lengthH(500)}, Body: v1[500:]}}, want: v1},
		// A 416 (RFC 9110 §15.5.17) names the size in Content-Range
		// bytes */complete.
		tc{name: "416 for a resource of the size known", rs: []httpscript.Response{cutA, {Status: 416, Header: []hdr{etagH(`"A"`), {"Content-Range", "bytes */1000"}, lengthH(0)}}}, wantErr: isProtocol},
		tc{name: "416 with a satisfied range", rs: []httpscript.Response{cutA, {Status: 416, Header: []hdr{etagH(`"A"`), rangeH(0, 99, 1000), lengthH(0)}}}, wantErr: isProtocol},
		tc{name: "416 for a larger resource", rs: []httpscript.Response{cutA, {Status: 416, Header: []hdr{{"Content-Range", "bytes */1200"}, lengthH(0)}}, wholeB}, want: v2},
		tc{name: "416 for a resource smaller than the bytes held", rs: []httpscript.Response{cutA, {Status: 416, Header: []hdr{{"Content-Range", "bytes */400"}, lengthH(0)}}, wholeB}, want: v2},
		tc{name: "416 for another size than Options.Size", rs: []httpscript.Response{cutA, {Status: 416, Header: []hdr{{"Content-Range", "bytes */1200"}, lengthH(0)}}}, size: 1000, wantErr: isSize},
		// The rules of range requests.
		tc{name: "206 from the wrong first byte", rs: []httpscript.Response{cutA, {Status: 206, Header: []hdr{etagH(`"A"`), rangeH(499, 999, 1000), lengthH(501)}, Body: v1[499:]}}, wantErr: isProtocol},
		tc{name: "206 whose Content-Length is not its range", rs: []httpscript.Response{cutA, {Status: 206, Header: []hdr{etagH(`"A"`), rangeH(500, 999, 1000), lengthH(400)}, Body: v1[500:900]}}, wantErr: isProtocol},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, url, opt := scripted(t, c.rs...)
			path := filepath.Join(t.TempDir(), "fw.bin")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			watch := &bounded{part: path + ".part", bound: 1000, cancel: cancel}
			opt.Size, opt.NoRestart, opt.Progress = c.size, c.noRestart, watch.check
			res, err := download.File(ctx, url, path, opt)
			for _, r := range srv.Requests() {
				t.Logf("request %d: %s Range %q If-Range %q", r.N, r.Method, r.Header.Get("Range"), r.Header.Get("If-Range"))
			}
			if watch.max > watch.bound {
				t.Errorf("the partial file grew to %d bytes, above the %d known", watch.max, watch.bound)
			}
			got, ferr := os.ReadFile(path)
			if c.want != nil {
				if err != nil {
					t.Fatalf("download: %v", err)
				}
				if !bytes.Equal(got, c.want) {
					t.Fatalf("the file is %d bytes and not the representation of %d", len(got), len(c.want))
				}
				if res.Size != int64(len(c.want)) || res.Total != int64(len(c.want)) {
					t.Errorf("Result.Size %d, Total %d; want %d", res.Size, res.Total, len(c.want))
				}
				return
			}
			if err == nil || !c.wantErr(err) {
				t.Fatalf("err %v (%T); want a typed error", err, err)
			}
			if !errors.Is(ferr, os.ErrNotExist) {
				t.Errorf("a file of %d bytes was renamed into place", len(got))
			}
		})
	}
}

// TestHostileStream: the same bounds hold for Stream, whose writer cannot
// be rewound: it never receives more than the known size, and a change seen
// after bytes were written is a *ChangedError.
func TestHostileStream(t *testing.T) {
	v1 := random(t, 1000)
	endless := httpscript.Forever([]byte("endless "))
	for _, c := range []struct {
		name string
		rs   []httpscript.Response
		size int64
	}{
		{"Size 1000, endless chunked 200", []httpscript.Response{{Status: 200, Stream: endless, Chunked: true}}, 1000},
		{"Content-Length seen, endless chunked 200 with the same ETag", []httpscript.Response{
			{Status: 200, Header: []hdr{etagH(`"A"`), lengthH(1000)}, Body: v1[:500], End: httpscript.Drop},
			{Status: 200, Header: []hdr{etagH(`"A"`)}, Stream: endless, Chunked: true}}, 0},
		{"Content-Length seen, chunked 200 of 700 with the same ETag", []httpscript.Response{
			{Status: 200, Header: []hdr{etagH(`"A"`), lengthH(1000)}, Body: v1[:500], End: httpscript.Drop},
			{Status: 200, Header: []hdr{etagH(`"A"`)}, Body: v1[:700], Chunked: true}}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, url, opt := scripted(t, c.rs...)
			opt.Size = c.size
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			w := &limitWriter{limit: 1000, cancel: cancel}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := download.Stream(ctx, url, w, opt)
			runtime.ReadMemStats(&after)
			// One buffer for the body, the connection's, and the server's
			// own: nothing that grows with the endless body.
			if alloc := after.TotalAlloc - before.TotalAlloc; !raceEnabled && alloc > 2<<20 {
				t.Errorf("%d bytes allocated, client and server together", alloc)
			} else {
				t.Logf("%d bytes allocated, client and server together", alloc)
			}
			if err == nil || errors.Is(err, context.Canceled) {
				t.Fatalf("err %v; want a typed error", err)
			}
			if w.n > 1000 {
				t.Errorf("%d bytes written to the stream, above the 1000 known", w.n)
			}
			t.Logf("%d bytes written: %v", w.n, err)
		})
	}
}

// limitWriter counts what it is given and cancels past limit.
type limitWriter struct {
	n, limit int64
	cancel   context.CancelFunc
}

func (w *limitWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.n > w.limit {
		w.cancel()
	}
	return len(p), nil
}

// TestSidecarSizeBounds: the size a sidecar recorded bounds the body of a
// later process: resumed against an endless chunked 200 under the same
// ETag, the partial file never holds more than that size, and the
// download starts over and ends with the representation.
func TestSidecarSizeBounds(t *testing.T) {
	v1 := random(t, 1000)
	srv, url, opt := scripted(t,
		httpscript.Response{Status: 200, Header: []hdr{etagH(`"A"`), lengthH(1000)}, Body: v1[:500], End: httpscript.Drop},
		httpscript.Response{Status: 200, Header: []hdr{etagH(`"A"`)}, Stream: httpscript.Forever([]byte("endless ")), Chunked: true},
		httpscript.Response{Status: 200, Header: []hdr{etagH(`"A"`), lengthH(1000)}, Body: v1})
	path := filepath.Join(t.TempDir(), "fw.bin")
	opt.Retries = -1
	if _, err := download.File(context.Background(), url, path, opt); err == nil {
		t.Fatal("the cut download succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	watch := &bounded{part: path + ".part", bound: 1000, cancel: cancel}
	opt.Resume, opt.Retries, opt.Progress = true, 0, watch.check
	res, err := download.File(ctx, url, path, opt)
	if watch.max > 1000 {
		t.Errorf("the partial file grew to %d bytes, above the 1000 the sidecar gives", watch.max)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, v1) || res.ResumedFrom != 500 || res.Restarts != 1 {
		t.Fatalf("file of %d bytes, resumed from %d, %d restarts; want the representation, 500 and 1", len(got), res.ResumedFrom, res.Restarts)
	}
	if r := srv.Requests()[1]; r.Header.Get("Range") != "bytes=500-" || r.Header.Get("If-Range") != `"A"` {
		t.Errorf("resumed with Range %q If-Range %q", r.Header.Get("Range"), r.Header.Get("If-Range"))
	}
}

// TestSidecarSizeNotOptionsSize: a partial file whose sidecar gives a size
// other than Options.Size is not continued, and the smaller size bounds
// the body: an endless chunked 200 under the same ETag stops at the first
// byte past Options.Size with a *SizeError.
func TestSidecarSizeNotOptionsSize(t *testing.T) {
	v1 := random(t, 1000)
	srv, url, opt := scripted(t,
		httpscript.Response{Status: 200, Header: []hdr{etagH(`"A"`), lengthH(1000)}, Body: v1[:500], End: httpscript.Drop},
		httpscript.Response{Status: 200, Header: []hdr{etagH(`"A"`)}, Stream: httpscript.Forever([]byte("endless ")), Chunked: true})
	path := filepath.Join(t.TempDir(), "fw.bin")
	opt.Retries = -1
	if _, err := download.File(context.Background(), url, path, opt); err == nil {
		t.Fatal("the cut download succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	watch := &bounded{part: path + ".part", bound: 800, cancel: cancel}
	var ev events
	opt.Resume, opt.Size, opt.Progress, opt.Event = true, 800, watch.check, ev.add
	_, err := download.File(ctx, url, path, opt)
	var se *download.SizeError
	if !errors.As(err, &se) || se.Want != 800 || !se.AtLeast {
		t.Fatalf("err %v, want a *SizeError past 800", err)
	}
	if watch.max > 800 {
		t.Errorf("the partial file grew to %d bytes, above Options.Size", watch.max)
	}
	if r := srv.Requests()[1]; r.Header.Get("Range") != "" || ev.count(download.EventResume) != 0 {
		t.Errorf("the partial file of a 1000-byte resource was continued (Range %q) with Options.Size 800", r.Header.Get("Range"))
	}
}

// TestRangeChunkRequests checks, on the server's side, the Range each
// chunk asks for (the last one ends at the last byte, not past it) and that
// a 206 reaching one byte past the chunk asked for is a *ProtocolError.
func TestRangeChunkRequests(t *testing.T) {
	v1 := random(t, 1000)
	chunk := func(first, last int) httpscript.Response {
		return httpscript.Response{Status: 206, Header: []hdr{etagH(`"A"`), rangeH(first, last, 1000), lengthH(last - first + 1)}, Body: v1[first : last+1]}
	}
	srv, url, opt := scripted(t, chunk(0, 299), chunk(300, 599), chunk(600, 899), chunk(900, 999))
	opt.RangeChunk, opt.Size = 300, 1000
	path := filepath.Join(t.TempDir(), "fw.bin")
	if _, err := download.File(context.Background(), url, path, opt); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, r.Header.Get("Range")+" "+r.Header.Get("If-Range"))
	}
	want := []string{"bytes=0-299 ", `bytes=300-599 "A"`, `bytes=600-899 "A"`, `bytes=900-999 "A"`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, v1) {
		t.Error("the file is not the representation")
	}

	_, url, opt = scripted(t, chunk(0, 299), chunk(300, 600))
	opt.RangeChunk = 300
	_, err := download.File(context.Background(), url, filepath.Join(t.TempDir(), "fw.bin"), opt)
	var pe *download.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("a 206 one byte past the chunk: %v, want a *ProtocolError", err)
	}

	_, url, opt = scripted(t, chunk(0, 299))
	opt.RangeChunk, opt.Size = 300, 999
	_, err = download.File(context.Background(), url, filepath.Join(t.TempDir(), "fw.bin"), opt)
	var se *download.SizeError
	if !errors.As(err, &se) || se.Got != 1000 || se.Want != 999 || se.AtLeast {
		t.Fatalf("a 206 of a 1000-byte resource with Options.Size 999: %v, want a *SizeError", err)
	}
}
