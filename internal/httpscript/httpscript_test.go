package httpscript

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestScript checks what a Go client reads from each kind of scripted
// answer: header fields as given (a duplicate ETag kept), a chunked body, a
// body cut by a TCP close under its Content-Length, the body left out for
// HEAD, an endless body, raw bytes, and Seq's 500 past the end.
func TestScript(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 300)
	s := Start(t, Seq(
		Response{Status: 200, Header: [][2]string{{"ETag", `"a"`}, {"etag", `"b"`}, {"Content-Length", "3000"}}, Body: body},
		Response{Status: 206, Header: [][2]string{{"Content-Range", "bytes 0-2999/3000"}}, Body: body, Chunked: true, ChunkSize: 7},
		Response{Status: 200, Header: [][2]string{{"Content-Length", "3000"}}, Body: body[:100], End: Drop},
		Response{Status: 200, Header: [][2]string{{"Content-Length", "3000"}}, Body: body},
		Response{Status: 200, Stream: Forever([]byte("x")), Chunked: true},
		Response{Raw: []byte("HTTP/1.1 204 No Content\r\nX-Raw: 1\r\n\r\n")},
	))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Pool()}}}
	get := func(method string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(method, s.URL("/f?x=1"), nil)
		req.Header.Set("X-Test", method)
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, b, err
	}
	resp, b, err := get("GET")
	if err != nil || !bytes.Equal(b, body) || len(resp.Header.Values("Etag")) != 2 {
		t.Fatalf("plain: %v, %d bytes, ETags %q", err, len(b), resp.Header.Values("Etag"))
	}
	resp, b, err = get("GET")
	if err != nil || resp.StatusCode != 206 || !bytes.Equal(b, body) || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("chunked: %v, %d bytes, %v", err, len(b), resp.TransferEncoding)
	}
	if _, b, err = get("GET"); !errors.Is(err, io.ErrUnexpectedEOF) || len(b) != 100 {
		t.Fatalf("cut: %v after %d bytes, want io.ErrUnexpectedEOF after 100", err, len(b))
	}
	if resp, b, err = get("HEAD"); err != nil || resp.ContentLength != 3000 || len(b) != 0 {
		t.Fatalf("HEAD: %v, %d bytes", err, len(b))
	}
	if _, b, err = get("GET"); err != nil || len(b) != 1<<20 || strings.Trim(string(b), "x") != "" {
		t.Fatalf("endless: %v, %d bytes", err, len(b))
	}
	if resp, _, err = get("GET"); err != nil || resp.StatusCode != 204 || resp.Header.Get("X-Raw") != "1" {
		t.Fatalf("raw: %v", err)
	}
	if resp, _, err = get("GET"); err != nil || resp.StatusCode != 500 {
		t.Fatalf("past the script: %v", err)
	}
	reqs := s.Requests()
	if len(reqs) != 7 || reqs[3].Method != "HEAD" || reqs[3].Header.Get("X-Test") != "HEAD" || reqs[0].Target != "/f?x=1" {
		t.Fatalf("requests %+v", reqs)
	}
	if reqs[0].Conn != reqs[1].Conn || reqs[2].Conn == reqs[3].Conn {
		t.Errorf("connections %d %d %d %d: want the first two on one, the cut to end its own", reqs[0].Conn, reqs[1].Conn, reqs[2].Conn, reqs[3].Conn)
	}
}

// TestResource checks the true answers a lie is made from: a 200 with
// Content-Length, a 206 for a Range (open or closed, clipped at the end),
// the whole body when If-Range does not match, a 416 at the end, and Set
// and Del changing one field in its place.
func TestResource(t *testing.T) {
	body := []byte("0123456789")
	etag := Resource{Body: body, Header: [][2]string{{"ETag", `"v"`}}}
	lm := Resource{Body: body, Header: [][2]string{{"Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT"}}}
	req := func(method string, kv ...string) Request {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return Request{Method: method, Header: h}
	}
	for _, tc := range []struct {
		name string
		rs   Resource
		r    Request
		want string // status, header fields, body
	}{
		{"GET", etag, req("GET"), `200 [[ETag "v"] [Content-Length 10]] 0123456789`},
		{"HEAD with Range", etag, req("HEAD", "Range", "bytes=2-"), `200 [[ETag "v"] [Content-Length 10]] 0123456789`},
		{"open range", etag, req("GET", "Range", "bytes=7-"), `206 [[ETag "v"] [Content-Range bytes 7-9/10] [Content-Length 3]] 789`},
		{"closed range", etag, req("GET", "Range", "bytes=2-3", "If-Range", `"v"`), `206 [[ETag "v"] [Content-Range bytes 2-3/10] [Content-Length 2]] 23`},
		{"range past the end", etag, req("GET", "Range", "bytes=8-20"), `206 [[ETag "v"] [Content-Range bytes 8-9/10] [Content-Length 2]] 89`},
		{"last byte", etag, req("GET", "Range", "bytes=9-9"), `206 [[ETag "v"] [Content-Range bytes 9-9/10] [Content-Length 1]] 9`},
		{"other If-Range", etag, req("GET", "Range", "bytes=2-", "If-Range", `"w"`), `200 [[ETag "v"] [Content-Length 10]] 0123456789`},
		{"date If-Range with an ETag", etag, req("GET", "Range", "bytes=2-", "If-Range", "Mon, 02 Jan 2006 15:04:05 GMT"), `200 [[ETag "v"] [Content-Length 10]] 0123456789`},
		{"date If-Range", lm, req("GET", "Range", "bytes=8-", "If-Range", "Mon, 02 Jan 2006 15:04:05 GMT"), `206 [[Last-Modified Mon, 02 Jan 2006 15:04:05 GMT] [Content-Range bytes 8-9/10] [Content-Length 2]] 89`},
		{"unsatisfiable", etag, req("GET", "Range", "bytes=10-"), `416 [[ETag "v"] [Content-Range bytes */10] [Content-Length 0]] `},
		{"bad range", etag, req("GET", "Range", "bytes=3-2"), `200 [[ETag "v"] [Content-Length 10]] 0123456789`},
		{"suffix range", etag, req("GET", "Range", "bytes=-2"), `200 [[ETag "v"] [Content-Length 10]] 0123456789`},
	} {
		resp := tc.rs.Answer(tc.r)
		if got := fmt.Sprintf("%d %v %s", resp.Status, resp.Header, resp.Body); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	resp := etag.Answer(req("GET", "Range", "bytes=7-"))
	resp.Set("content-range", "bytes 6-9/10") // in its place, as spelled
	resp.Set("X-New", "1")
	resp.Del("ETag")
	if got, want := fmt.Sprint(resp.Header), "[[Content-Range bytes 6-9/10] [Content-Length 3] [X-New 1]]"; got != want {
		t.Errorf("after Set and Del: %s, want %s", got, want)
	}
	if got := fmt.Sprint(etag.Answer(req("GET")).Header); got != `[[ETag "v"] [Content-Length 10]]` {
		t.Errorf("a lie changed the resource: %s", got)
	}
}
