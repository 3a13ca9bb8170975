package edge

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCoalescing: 100 devices download one uncached image at once; the
// origin sends the body once (one 200) and answers every other request for
// it, all conditional, with 304; every device gets the right bytes.
func TestCoalescing(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	image := randomBytes(1 << 20)
	hold := make(chan struct{})
	origin.put("/fw/image.bin", &originObject{body: image, etag: `"v1"`})
	origin.hold["/fw/image.bin"] = hold // the first response stops halfway until all have asked
	edge := startEdge(t, origin, t.TempDir())
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, body, err := tryGet(modemClient(pool, edge.addr, nil), "GET", fmt.Sprintf("https://127.0.0.1/fw/image.bin?device=%d", i))
			switch {
			case err != nil:
				errs <- err
			case resp.StatusCode != 200 || sum(body) != sum(image):
				errs <- fmt.Errorf("device %d: status %d, %d bytes", i, resp.StatusCode, len(body))
			}
		}()
	}
	close(start)
	// Release the origin once every device's request has reached it.
	deadline := time.Now().Add(30 * time.Second)
	for len(origin.requests()) < n-1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	byStatus, conditional := countStatus(origin.requests(), "/fw/image.bin")
	t.Logf("origin answers: %v, %d conditional", byStatus, conditional)
	if byStatus[200] != 1 || byStatus[304] != n-1 || conditional != n-1 || len(byStatus) != 2 {
		t.Fatalf("origin answered %v with %d conditional requests; want one 200 and %d conditional 304s", byStatus, conditional, n-1)
	}
	for _, h := range origin.requests() {
		if h.status == 200 && h.bytes != int64(len(image)) {
			t.Fatalf("the 200 carried %d bytes", h.bytes)
		}
	}
}

// TestStreamWhileFilling: devices get the first half of an object while
// the origin has not sent the second.
func TestStreamWhileFilling(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	image := randomBytes(1 << 20)
	hold := make(chan struct{})
	origin.put("/img", &originObject{body: image, etag: `"s"`})
	origin.hold["/img"] = hold
	edge := startEdge(t, origin, t.TempDir())
	var got [2]chan []byte
	for i := range got {
		got[i] = make(chan []byte, 1)
		go func() {
			req, _ := http.NewRequest("GET", "https://127.0.0.1/img", nil)
			resp, err := plainClient(pool, edge.addr, nil).Do(req)
			if err != nil {
				got[i] <- nil
				return
			}
			defer resp.Body.Close()
			half := make([]byte, len(image)/2)
			if _, err := io.ReadFull(resp.Body, half); err != nil {
				got[i] <- nil
				return
			}
			got[i] <- half // before the origin sent the rest
			rest, _ := io.ReadAll(resp.Body)
			got[i] <- append(half, rest...)
		}()
	}
	for i := range got {
		select {
		case half := <-got[i]:
			if !bytes.Equal(half, image[:len(image)/2]) {
				t.Fatalf("device %d: the first half differs", i)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("device %d got nothing while the origin held the second half", i)
		}
	}
	close(hold)
	for i := range got {
		if b := <-got[i]; sum(b) != sum(image) {
			t.Fatalf("device %d: %d bytes, wrong SHA-256", i, len(b))
		}
	}
}

// TestOriginReplaced: once the origin's object changes, the next request
// gets the new bytes, and a device resuming with If-Range of the old ETag
// gets the new object whole (200), never a splice; without If-Range a
// resumed Range is cut from the new object.
func TestOriginReplaced(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	v1, v2 := randomBytes(300<<10), randomBytes(300<<10)
	origin.put("/fw", &originObject{body: v1, etag: `"v1"`})
	edge := startEdge(t, origin, t.TempDir())
	c := plainClient(pool, edge.addr, nil)
	resp, body := get(t, c, "https://127.0.0.1/fw")
	if resp.StatusCode != 200 || !bytes.Equal(body, v1) || resp.Header.Get("ETag") != `"v1"` {
		t.Fatalf("v1: status %d, ETag %s", resp.StatusCode, resp.Header.Get("ETag"))
	}
	origin.put("/fw", &originObject{body: v2, etag: `"v2"`})
	resp, body = get(t, c, "https://127.0.0.1/fw", "Range", "bytes=1000-", "If-Range", `"v1"`)
	if resp.StatusCode != 200 || !bytes.Equal(body, v2) || resp.Header.Get("ETag") != `"v2"` {
		t.Fatalf("resume with the old ETag: status %d, %d bytes, new object %v; want 200 and the whole new object",
			resp.StatusCode, len(body), bytes.Equal(body, v2))
	}
	resp, body = get(t, c, "https://127.0.0.1/fw")
	if resp.StatusCode != 200 || !bytes.Equal(body, v2) {
		t.Fatalf("after the change: status %d, new bytes %v", resp.StatusCode, bytes.Equal(body, v2))
	}
	resp, body = get(t, c, "https://127.0.0.1/fw", "Range", "bytes=1000-", "If-Range", `"v2"`)
	if resp.StatusCode != 206 || !bytes.Equal(body, v2[1000:]) {
		t.Fatalf("resume with the new ETag: status %d, %d bytes", resp.StatusCode, len(body))
	}
	byStatus, _ := countStatus(origin.requests(), "/fw")
	if byStatus[200] != 2 {
		t.Fatalf("origin answers %v: want one 200 per version", byStatus)
	}
}

// TestOriginRefuses: pre-signed URLs; the origin refuses a bad signature
// (403), a missing object (404) and a withdrawn one (410): the device gets
// the status and not a byte of the cached body, though the object is
// cached from an authorized request.
func TestOriginRefuses(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	image := randomBytes(64 << 10)
	origin.put("/signed/fw.bin", &originObject{body: image, etag: `"s1"`})
	origin.deny = func(r *http.Request) int {
		switch r.URL.Query().Get("sig") {
		case "good":
			return 0
		case "gone":
			return http.StatusGone
		case "missing":
			return http.StatusNotFound
		}
		return http.StatusForbidden
	}
	edge := startEdge(t, origin, t.TempDir())
	c := plainClient(pool, edge.addr, nil)
	resp, body := get(t, c, "https://127.0.0.1/signed/fw.bin?sig=good&exp=99")
	if resp.StatusCode != 200 || !bytes.Equal(body, image) {
		t.Fatalf("good signature: %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		query string
		want  int
	}{{"sig=bad&exp=99", 403}, {"exp=99", 403}, {"sig=missing", 404}, {"sig=gone", 410}} {
		before := len(origin.requests())
		for _, method := range []string{"GET", "HEAD"} {
			resp, body, err := tryGet(c, method, "https://127.0.0.1/signed/fw.bin?"+tc.query, "Range", "bytes=0-99")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want || bytes.Contains(body, image[:32]) || len(body) > 200 || resp.Header.Get("ETag") != "" {
				t.Fatalf("%s ?%s: status %d, %d body bytes, ETag %q; want %d and no cached bytes",
					method, tc.query, resp.StatusCode, len(body), resp.Header.Get("ETag"), tc.want)
			}
		}
		hits := origin.requests()[before:]
		if len(hits) != 2 || hits[0].header.Get("If-None-Match") != `"s1"` || hits[0].uri != "/signed/fw.bin?"+tc.query {
			t.Fatalf("origin saw %+v", hits)
		}
	}
	// The authorized request still gets the cached body (origin: 304).
	resp, body = get(t, c, "https://127.0.0.1/signed/fw.bin?sig=good&exp=100")
	if resp.StatusCode != 200 || !bytes.Equal(body, image) {
		t.Fatalf("good signature after refusals: %d", resp.StatusCode)
	}
	if hits := origin.requests(); hits[len(hits)-1].status != 304 {
		t.Fatalf("last origin answer %d, want 304", hits[len(hits)-1].status)
	}
}

// TestRefusedRequests: requests for another host or for a path outside
// the origin are refused and the origin is never contacted.
func TestRefusedRequests(t *testing.T) {
	origin := startOrigin(t)
	origin.put("/fw", &originObject{body: []byte("firmware"), etag: `"x"`})
	edge := startEdge(t, origin, t.TempDir())
	_, pool := testChain(t)
	cases := []struct {
		name, request string
		want          int
	}{
		{"absolute-form, other host", "GET https://evil.example/fw HTTP/1.1\r\nHost: evil.example\r\n", 400},
		{"absolute-form, the origin", "GET " + origin.url + "/fw HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"absolute-form, the edge", "GET https://127.0.0.1/fw HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"foreign Host", "GET /fw HTTP/1.1\r\nHost: evil.example\r\n", 421},
		{"port trick in Host", "GET /fw HTTP/1.1\r\nHost: " + origin.addr + ".evil.example\r\n", 421},
		{"Host with user", "GET /fw HTTP/1.1\r\nHost: 127.0.0.1@evil.example\r\n", 400}, // net/http refuses it first
		{"CONNECT", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n", 405},
		{"CONNECT to the edge's name", "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1\r\n", 405},
		{"POST", "POST /fw HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n", 405},
		// net/http answers OPTIONS * itself, an empty 200.
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n", 200},
		{"dot-dot", "GET /../secret HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"dot-dot inside", "GET /fw/../../secret HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"encoded dot-dot", "GET /%2e%2E/secret HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"half-encoded dot-dot", "GET /.%2e/secret HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"dot", "GET /./fw HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"encoded slash", "GET /a%2Fb HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"encoded backslash", "GET /a%5c..%5cb HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"backslash", "GET /a\\..\\b HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"empty segment", "GET //evil.example/fw HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"encoded NUL", "GET /fw%00.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"bad escape", "GET /fw%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"bad escape in query", "GET /fw?a=%z HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"quote in query", "GET /fw?a=\"x\" HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"fragment", "GET /fw#x HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
		{"authority-form GET", "GET evil.example:443 HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", edge.addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, tc.request+"Connection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if hits := origin.requests(); len(hits) != 0 {
		t.Fatalf("the origin was contacted: %+v", hits)
	}
	// And a good request does reach it (the test can fail).
	resp, body := get(t, plainClient(pool, edge.addr, nil), "https://127.0.0.1/fw")
	if resp.StatusCode != 200 || string(body) != "firmware" || len(origin.requests()) != 1 {
		t.Fatalf("good request: %d %q, %d origin requests", resp.StatusCode, body, len(origin.requests()))
	}
}

// TestForwarded: the origin receives the device's path and query byte for
// byte below its base path, and of the device's headers only
// Authorization.
func TestForwarded(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	origin.put("/base/a%20b/fw;v=1.bin", &originObject{body: []byte("x"), etag: `"e"`})
	origin.put("/base/a b/fw;v=1.bin", &originObject{body: []byte("x"), etag: `"e"`})
	edge := startEdge(t, origin, t.TempDir(), func(c *Config, _ *ServeOptions) { c.Origin = origin.url + "/base/" })
	c := plainClient(pool, edge.addr, nil)
	const target = "/a%20b/fw;v=1.bin?X-Amz-Signature=ab%2Fcd&X-Amz-Expires=300&empty=&plus=a+b"
	resp, _ := get(t, c, "https://127.0.0.1"+target, "Authorization", "Bearer t0k", "Cookie", "c=1",
		"Range", "bytes=0-0", "If-Range", `"e"`, "X-Custom", "1", "User-Agent", "modem")
	if resp.StatusCode != 206 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	hits := origin.requests()
	if len(hits) != 1 || hits[0].uri != "/base"+target {
		t.Fatalf("origin saw %+v, want %q", hits, "/base"+target)
	}
	h := hits[0].header
	if h.Get("Authorization") != "Bearer t0k" || h.Get("Accept-Encoding") != "identity" || h.Get("User-Agent") != "tlsapp-edge" {
		t.Fatalf("forwarded headers: %v", h)
	}
	for _, name := range []string{"Cookie", "Range", "If-Range", "X-Custom", "If-None-Match"} {
		if h.Get(name) != "" {
			t.Errorf("%s reached the origin: %q", name, h.Get(name))
		}
	}
}

// TestDeviceHTTP: the device side follows RFC 9110: strong ETag and
// Last-Modified, single Range (206 with Content-Range), unsatisfiable
// (416 with bytes */size), If-Range, If-None-Match, HEAD, several ranges
// (the whole body); an origin without a strong ETag gets the body's
// SHA-256 as the device's ETag.
func TestDeviceHTTP(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	image := randomBytes(10000)
	mod := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	origin.put("/img", &originObject{body: image, etag: `"i1"`, modified: mod})
	origin.put("/weak", &originObject{body: image, etag: `W/"w"`, modified: mod})
	edge := startEdge(t, origin, t.TempDir())
	c := plainClient(pool, edge.addr, nil)
	u := "https://127.0.0.1/img"
	resp, body := get(t, c, u)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"i1"` || resp.Header.Get("Last-Modified") != mod.Format(http.TimeFormat) ||
		resp.Header.Get("Accept-Ranges") != "bytes" || !bytes.Equal(body, image) {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	cases := []struct {
		name         string
		method       string
		header       []string
		status       int
		contentRange string
		body         []byte
	}{
		{"range", "GET", []string{"Range", "bytes=100-2147"}, 206, "bytes 100-2147/10000", image[100:2148]},
		{"open range", "GET", []string{"Range", "bytes=9000-"}, 206, "bytes 9000-9999/10000", image[9000:]},
		{"suffix range", "GET", []string{"Range", "bytes=-10"}, 206, "bytes 9990-9999/10000", image[9990:]},
		{"last byte", "GET", []string{"Range", "bytes=9999-9999"}, 206, "bytes 9999-9999/10000", image[9999:]},
		{"range past the end is cut", "GET", []string{"Range", "bytes=9990-20000"}, 206, "bytes 9990-9999/10000", image[9990:]},
		{"unsatisfiable", "GET", []string{"Range", "bytes=10000-"}, 416, "bytes */10000", nil},
		{"several ranges: whole body", "GET", []string{"Range", "bytes=0-1,5-6"}, 200, "", image},
		{"If-Range match", "GET", []string{"Range", "bytes=10-19", "If-Range", `"i1"`}, 206, "bytes 10-19/10000", image[10:20]},
		{"If-Range other tag", "GET", []string{"Range", "bytes=10-19", "If-Range", `"old"`}, 200, "", image},
		{"If-Range weak tag", "GET", []string{"Range", "bytes=10-19", "If-Range", `W/"i1"`}, 200, "", image},
		{"If-Range date", "GET", []string{"Range", "bytes=10-19", "If-Range", mod.Format(http.TimeFormat)}, 206, "bytes 10-19/10000", image[10:20]},
		{"If-None-Match", "GET", []string{"If-None-Match", `"i1"`}, 304, "", nil},
		{"If-None-Match other", "GET", []string{"If-None-Match", `"x"`}, 200, "", image},
		{"HEAD", "HEAD", nil, 200, "", nil},
		{"HEAD range", "HEAD", []string{"Range", "bytes=0-9"}, 206, "bytes 0-9/10000", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, err := tryGet(c, tc.method, u, tc.header...)
			if err != nil {
				t.Fatal(err)
			}
			if tc.status == 416 {
				body = nil // ServeContent explains in a line of text
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Range") != tc.contentRange || !bytes.Equal(body, tc.body) {
				t.Fatalf("status %d, Content-Range %q, %d body bytes; want %d, %q, %d",
					resp.StatusCode, resp.Header.Get("Content-Range"), len(body), tc.status, tc.contentRange, len(tc.body))
			}
		})
	}
	t.Run("weak origin tag", func(t *testing.T) {
		resp, body := get(t, c, "https://127.0.0.1/weak")
		want := fmt.Sprintf(`"sha256-%x"`, sum(image))
		if !bytes.Equal(body, image) {
			t.Fatal("wrong body")
		}
		if resp.Header.Get("ETag") != "" && resp.Header.Get("ETag") != want {
			t.Fatalf("ETag %q", resp.Header.Get("ETag"))
		}
		// Once the fill is sealed, the body's hash is its entity tag.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			resp, _ = get(t, c, "https://127.0.0.1/weak", "Range", "bytes=0-0")
			if resp.Header.Get("ETag") != "" || time.Now().After(deadline) {
				break
			}
		}
		if resp.Header.Get("ETag") != want || resp.StatusCode != 206 {
			t.Fatalf("complete object: status %d, ETag %q, want %q", resp.StatusCode, resp.Header.Get("ETag"), want)
		}
		hits := origin.requests()
		if last := hits[len(hits)-1]; last.header.Get("If-None-Match") != "" || last.header.Get("If-Modified-Since") != mod.Format(http.TimeFormat) || last.status != 304 {
			t.Fatalf("with a weak tag the edge asks If-Modified-Since: %v -> %d", last.header, last.status)
		}
	})
}

// TestSequentialRanges: a Nordic-style download, 2048-byte Range requests
// one after the other on one kept-alive connection without If-Range: each
// answer is the right 206, the origin sends the body once, and every
// request is authorized by a conditional request answered 304.
func TestSequentialRanges(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	image := randomBytes(64 << 10)
	origin.put("/fw", &originObject{body: image, etag: `"r"`})
	edge := startEdge(t, origin, t.TempDir())
	relay := startRelay(t, edge.addr)
	c := modemClient(pool, relay.addr, nil)
	c.Transport.(*http.Transport).DisableKeepAlives = false
	var got []byte
	requests := 0
	for off := 0; off < len(image); off += 2048 {
		end := min(off+2048, len(image)) - 1
		resp, body := get(t, c, "https://127.0.0.1/fw", "Range", fmt.Sprintf("bytes=%d-%d", off, end))
		if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", off, end, len(image)) {
			t.Fatalf("range %d-%d: %d %q", off, end, resp.StatusCode, resp.Header.Get("Content-Range"))
		}
		got = append(got, body...)
		requests++
	}
	if !bytes.Equal(got, image) {
		t.Fatal("the ranges do not make the image")
	}
	if n := len(relay.seen()); n != 1 {
		t.Fatalf("%d connections, want one kept alive", n)
	}
	byStatus, conditional := countStatus(origin.requests(), "/fw")
	if byStatus[200] != 1 || byStatus[304] != requests-1 || conditional != requests-1 {
		t.Fatalf("origin answered %v (%d conditional) for %d requests", byStatus, conditional, requests)
	}
}

// TestCacheOnlyWithinMaxAge: with the operator's setting, a URL without a
// query is answered from the cache alone within the origin's max-age, a
// URL with one never is, and without the setting nothing is.
func TestCacheOnlyWithinMaxAge(t *testing.T) {
	_, pool := testChain(t)
	for _, setting := range []bool{false, true} {
		t.Run(fmt.Sprint("setting=", setting), func(t *testing.T) {
			origin := startOrigin(t)
			origin.put("/fresh", &originObject{body: []byte("fresh"), etag: `"f"`, cc: "max-age=3600"})
			origin.put("/stale", &originObject{body: []byte("stale"), etag: `"s"`, cc: "max-age=0"})
			origin.put("/nocache", &originObject{body: []byte("nocache"), etag: `"n"`, cc: "max-age=3600, no-cache"})
			edge := startEdge(t, origin, t.TempDir(), func(c *Config, _ *ServeOptions) { c.CacheOnlyWithinMaxAge = setting })
			c := plainClient(pool, edge.addr, nil)
			for _, tc := range []struct {
				target string
				cached bool // with the setting, the second request stays at the edge
			}{{"/fresh", true}, {"/fresh?sig=1", false}, {"/stale", false}, {"/nocache", false}} {
				get(t, c, "https://127.0.0.1"+tc.target)
				before := len(origin.requests())
				resp, _ := get(t, c, "https://127.0.0.1"+tc.target)
				asked := len(origin.requests()) - before
				wantAsked := 1
				if setting && tc.cached {
					wantAsked = 0
				}
				if resp.StatusCode != 200 || asked != wantAsked {
					t.Errorf("%s: status %d, origin asked %d times, want %d", tc.target, resp.StatusCode, asked, wantAsked)
				}
			}
		})
	}
}

// TestRestart: a new edge on the same cache directory serves the objects
// the old one filled (the origin answers 304 only), deletes partial fills
// and files that do not verify, and fetches those again.
func TestRestart(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	a, b, c3 := randomBytes(100<<10), randomBytes(100<<10), randomBytes(100<<10)
	origin.put("/a", &originObject{body: a, etag: `"a"`})
	origin.put("/b", &originObject{body: b, etag: `"b"`})
	origin.put("/c", &originObject{body: c3, etag: `"c"`})
	dir := t.TempDir()
	edge := startEdge(t, origin, dir)
	c := plainClient(pool, edge.addr, nil)
	for _, p := range []string{"/a", "/b", "/c"} {
		get(t, c, "https://127.0.0.1"+p)
	}
	edge.stop()
	files, _ := filepath.Glob(filepath.Join(dir, "*.obj"))
	if len(files) != 3 {
		t.Fatalf("%d object files, want 3", len(files))
	}
	// Damage b's body (one byte) and cut c's trailer off; leave a partial.
	var bFile, cFile string
	for _, f := range files {
		data, _ := os.ReadFile(f)
		switch {
		case bytes.Contains(data, b[:64]):
			bFile = f
		case bytes.Contains(data, c3[:64]):
			cFile = f
		}
	}
	data, _ := os.ReadFile(bFile)
	i := bytes.Index(data, b[:64]) + 5000
	data[i] ^= 1
	os.WriteFile(bFile, data, 0o600)
	data, _ = os.ReadFile(cFile)
	os.WriteFile(cFile, data[:len(data)-trailerLen], 0o600)
	os.WriteFile(filepath.Join(dir, "0123-partial.obj.part"), []byte("partial"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not the edge's"), 0o600)

	before := len(origin.requests())
	edge2 := startEdge(t, origin, dir)
	c = plainClient(pool, edge2.addr, nil)
	for _, tc := range []struct {
		path string
		body []byte
		want int // the origin's answer
	}{{"/a", a, 304}, {"/b", b, 200}, {"/c", c3, 200}} {
		resp, body := get(t, c, "https://127.0.0.1"+tc.path)
		if resp.StatusCode != 200 || !bytes.Equal(body, tc.body) {
			t.Fatalf("%s after restart: status %d, right bytes %v", tc.path, resp.StatusCode, bytes.Equal(body, tc.body))
		}
		hits := origin.requests()
		if last := hits[len(hits)-1]; last.status != tc.want {
			t.Fatalf("%s: origin answered %d, want %d", tc.path, last.status, tc.want)
		}
	}
	if len(origin.requests())-before != 3 {
		t.Fatalf("origin asked %d times", len(origin.requests())-before)
	}
	if _, err := os.Stat(filepath.Join(dir, "0123-partial.obj.part")); !os.IsNotExist(err) {
		t.Fatal("the partial fill was not deleted")
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Fatal("a file that is not the edge's was touched")
	}
}

// TestEviction: the cache stays within its size, dropping the least
// recently used object first.
func TestEviction(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	objs := map[string][]byte{}
	for _, p := range []string{"/1", "/2", "/3", "/4"} {
		objs[p] = randomBytes(300 << 10)
		origin.put(p, &originObject{body: objs[p], etag: `"` + p[1:] + `"`})
	}
	dir := t.TempDir()
	const limit = 1 << 20 // three objects and their headers fit, four do not
	edge := startEdge(t, origin, dir, func(c *Config, _ *ServeOptions) { c.CacheBytes = limit })
	c := plainClient(pool, edge.addr, nil)
	for _, p := range []string{"/1", "/2", "/3", "/1", "/4"} { // 2 is then the least recently used
		if resp, body := get(t, c, "https://127.0.0.1"+p); !bytes.Equal(body, objs[p]) {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		// A fill ends (sync, rename) after its device has read the body,
		// and a fill still running cannot be evicted: let each end, so
		// that the order of use alone decides.
		edge.cache.fills.Wait()
	}
	var total int64
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		st, _ := os.Stat(f)
		total += st.Size()
	}
	if total > limit || len(files) != 3 {
		t.Fatalf("%d files, %d bytes on disk; want 3 within %d", len(files), total, limit)
	}
	before := len(origin.requests())
	for _, p := range []string{"/1", "/3", "/4", "/2"} {
		get(t, c, "https://127.0.0.1"+p)
		edge.cache.fills.Wait()
	}
	byStatus := map[int]int{}
	for _, h := range origin.requests()[before:] {
		byStatus[h.status]++
		if h.status == 200 && h.uri != "/2" {
			t.Errorf("%s was evicted instead of /2", h.uri)
		}
	}
	if byStatus[200] != 1 {
		t.Fatalf("origin answers %v: want /2 alone fetched again", byStatus)
	}
}

// TestFillCut: an origin body cut short is never served as complete: the
// devices reading it see an error, the partial file is deleted, and the
// next request fetches the object again.
func TestFillCut(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	image := randomBytes(512 << 10)
	origin.put("/fw", &originObject{body: image, etag: `"c"`})
	origin.cut["/fw"] = 200 << 10
	dir := t.TempDir()
	edge := startEdge(t, origin, dir)
	c := plainClient(pool, edge.addr, nil)
	resp, body, err := tryGet(c, "GET", "https://127.0.0.1/fw")
	if err == nil && bytes.Equal(body, image) {
		t.Fatalf("a cut fill was served whole (status %d)", resp.StatusCode)
	}
	if err == nil {
		t.Fatalf("status %d, %d bytes, no error: a cut body read as complete", resp.StatusCode, len(body))
	}
	time.Sleep(100 * time.Millisecond)
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Fatalf("files left: %v", files)
	}
	origin.mu.Lock()
	delete(origin.cut, "/fw")
	origin.mu.Unlock()
	resp, body = get(t, c, "https://127.0.0.1/fw")
	if resp.StatusCode != 200 || !bytes.Equal(body, image) {
		t.Fatalf("after the cut: status %d, right bytes %v", resp.StatusCode, bytes.Equal(body, image))
	}
}

// TestLogAndMetrics: one JSON log line per request with the fields the
// issue lists, and the metrics handler counting them.
func TestLogAndMetrics(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	origin.put("/fw", &originObject{body: randomBytes(50000), etag: `"m"`})
	edge := startEdge(t, origin, t.TempDir())
	c := modemClient(pool, edge.addr, nil)
	get(t, c, "https://127.0.0.1/fw?sig=secret")
	get(t, c, "https://127.0.0.1/fw", "Range", "bytes=0-99")
	get(t, c, "https://127.0.0.1/../x")
	lines := strings.Split(strings.TrimSpace(edge.logs.String()), "\n")
	var recs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if m["msg"] == "request" {
			recs = append(recs, m)
		}
	}
	if len(recs) != 3 {
		t.Fatalf("%d request lines:\n%s", len(recs), edge.logs.String())
	}
	first, second := recs[0], recs[1]
	for _, k := range []string{"client", "path", "status", "range", "bytes", "tls", "resumed", "largest_record", "cache", "suite"} {
		if _, ok := first[k]; !ok {
			t.Errorf("no %q in %v", k, first)
		}
	}
	if first["cache"] != "miss" || second["cache"] != "revalidated" || recs[2]["cache"] != "invalid" {
		t.Errorf("cache outcomes %v, %v, %v", first["cache"], second["cache"], recs[2]["cache"])
	}
	if first["path"] != "/fw" || first["query"] != true || strings.Contains(edge.logs.String(), "secret") {
		t.Errorf("path %v query %v; the query's value must not be logged", first["path"], first["query"])
	}
	if first["tls"] != "TLS 1.2" || first["bytes"] != float64(50000) || second["bytes"] != float64(100) || second["range"] != "bytes=0-99" || second["status"] != float64(206) {
		t.Errorf("lines: %v / %v", first, second)
	}
	if lr := first["largest_record"].(float64); lr < 2048 || lr > 2112 {
		t.Errorf("largest_record %v", lr)
	}
	edge.cache.fills.Wait() // the object counts once its fill has ended, which may be after the device's read
	rec := httptest.NewRecorder()
	edge.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`edge_requests_total{cache="miss",code="200"} 1`,
		`edge_requests_total{cache="revalidated",code="206"} 1`,
		`edge_requests_total{cache="invalid",code="400"} 1`,
		`edge_origin_requests_total{code="304"} 1`,
		`edge_cache_objects 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
