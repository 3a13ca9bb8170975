package download_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/internal/httpscript"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// lie changes one true answer of an httpscript.Resource.
type lie = func(httpscript.Request, *httpscript.Response)

// cutAt ends the body after n bytes with a TCP close.
func cutAt(n int) lie {
	return func(_ httpscript.Request, r *httpscript.Response) { r.Body, r.End = r.Body[:n], httpscript.Drop }
}

// setH sets header fields, name and value in turn.
func setH(kv ...string) lie {
	return func(_ httpscript.Request, r *httpscript.Response) {
		for i := 0; i < len(kv); i += 2 {
			r.Set(kv[i], kv[i+1])
		}
	}
}

// delH removes header fields.
func delH(names ...string) lie {
	return func(_ httpscript.Request, r *httpscript.Response) {
		for _, n := range names {
			r.Del(n)
		}
	}
}

// sent makes the answer a 206 for bytes first-last/complete with body b and
// a Content-Length of len(b): a range other than the one asked for.
func sent(first, last, complete int, b []byte) lie {
	return func(_ httpscript.Request, r *httpscript.Response) {
		r.Status = 206
		r.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, complete))
		r.Set("Content-Length", strconv.Itoa(len(b)))
		r.Body = b
	}
}

// withBody replaces the body, keeping the header fields.
func withBody(b []byte) lie {
	return func(_ httpscript.Request, r *httpscript.Response) { r.Body = b }
}

// chunkedBody sends b chunked, without Content-Length; unterminated, it
// ends with a TCP close and no last chunk.
func chunkedBody(b []byte, unterminated bool) lie {
	return func(_ httpscript.Request, r *httpscript.Response) {
		r.Del("Content-Length")
		r.Body, r.Chunked, r.ChunkSize = b, true, 128
		if unterminated {
			r.Unterminated, r.End = true, httpscript.Drop
		}
	}
}

// whole makes the answer a 200 with body b and a Content-Length of len(b).
func whole(b []byte) lie {
	return func(_ httpscript.Request, r *httpscript.Response) {
		r.Status, r.Body = 200, b
		r.Del("Content-Range")
		r.Set("Content-Length", strconv.Itoa(len(b)))
	}
}

func status(code int) lie {
	return func(_ httpscript.Request, r *httpscript.Response) { r.Status = code }
}

func all(ls ...lie) lie {
	return func(q httpscript.Request, r *httpscript.Response) {
		for _, l := range ls {
			l(q, r)
		}
	}
}

// TestLyingServer answers a download with true answers of one 1000-byte
// representation (httpscript.Resource), save one or two that lie in a
// single header field or in their body's length, and checks what the
// download makes of each: the file it renames into place (exactly the
// representation, or exactly what a server that changed it sent), or the
// typed error and the partial file it leaves (exactly the true bytes held,
// or nothing); and, on the server's side, the requests it made (Range and
// If-Range), which show whether it continued, started over or confirmed.
func TestLyingServer(t *testing.T) {
	v, other := random(t, 1000), random(t, 1001)
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	date := t0.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	byETag := httpscript.Resource{Body: v, Header: []hdr{etagH(`"A"`)}}
	byDate := httpscript.Resource{Body: v, Header: []hdr{lastModH(t0), dateH(t0.Add(time.Hour))}}
	etag := func(e string) httpscript.Resource { return httpscript.Resource{Body: v, Header: []hdr{etagH(e)}} }
	dateAt := func(d time.Duration) httpscript.Resource {
		return httpscript.Resource{Body: v, Header: []hdr{lastModH(t0), dateH(t0.Add(d))}}
	}
	none := httpscript.Resource{Body: v}

	isProtocol := func(err error) bool { var pe *download.ProtocolError; return errors.As(err, &pe) }
	isChanged := func(err error) bool {
		var ce *download.ChangedError
		return errors.As(err, &ce) && errors.Is(err, download.ErrChanged) && ce.Offset == 500
	}
	isNoValidator := func(err error) bool { return errors.Is(err, download.ErrNoValidator) }
	isDigest := func(err error) bool { var de *download.DigestError; return errors.As(err, &de) }
	isStatus := func(code int) func(error) bool {
		return func(err error) bool { var se *download.StatusError; return errors.As(err, &se) && se.Code == code }
	}

	const (
		get     = "GET"
		resumeA = `GET bytes=500- "A"`
	)
	resumeDate := "GET bytes=500- " + date
	type tc struct {
		name      string
		rs        httpscript.Resource
		lies      map[int]lie
		chunk     int
		noRestart bool
		sha       []byte
		retries   int
		buf       int // Options.BufferSize
		retried   int // the failed attempts retried (Result.Retries), when not 0

		want     []byte           // the file on success
		wantErr  func(error) bool // or the error
		wantPart []byte           // and the partial file it leaves (nil: none)
		reqs     []string         // the requests: method, Range, If-Range
	}
	cases := []tc{
		{name: "true answers, cut at 500", rs: byETag, lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, resumeA}},

		// Content-Range: the first byte is the one asked for, the last
		// within what was asked, the complete length the one seen first.
		{name: "206 from the byte before the one asked", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: sent(499, 999, 1000, v[499:])},
			wantErr: isProtocol, wantPart: v[:500], reqs: []string{get, resumeA}},
		{name: "206 from the byte after the one asked", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: sent(501, 999, 1000, v[501:])},
			wantErr: isProtocol, wantPart: v[:500], reqs: []string{get, resumeA}},
		{name: "206 ending a byte short, the rest asked again", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: sent(500, 998, 1000, v[500:999])},
			want: v, reqs: []string{get, resumeA, `GET bytes=999- "A"`}},
		{name: "206 ending at the complete length", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: sent(500, 1000, 1000, append(v[500:1000:1000], 'x'))},
			wantErr: isProtocol, wantPart: v[:500], reqs: []string{get, resumeA}},
		{name: "chunk ending a byte past the one asked", rs: byETag, chunk: 300, lies: map[int]lie{1: sent(300, 600, 1000, v[300:601])},
			wantErr: isProtocol, wantPart: v[:300], reqs: []string{"GET bytes=0-299", `GET bytes=300-599 "A"`}},
		{name: "chunk ending a byte before the one asked", rs: byETag, chunk: 300, lies: map[int]lie{1: sent(300, 598, 1000, v[300:599])},
			want: v, reqs: []string{"GET bytes=0-299", `GET bytes=300-599 "A"`, `GET bytes=599-898 "A"`, `GET bytes=899-999 "A"`}},
		{name: "one-byte chunk answered with two", rs: byETag, chunk: 1, lies: map[int]lie{0: sent(0, 1, 1000, v[:2])},
			wantErr: isProtocol, reqs: []string{"GET bytes=0-0"}},
		{name: "206 with a complete length one more, same ETag", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: sent(500, 999, 1001, v[500:])},
			want: v, reqs: []string{get, resumeA, get}},
		{name: "206 with a complete length one less, same ETag", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: sent(500, 998, 999, v[500:999])},
			want: v, reqs: []string{get, resumeA, get}},
		{name: "206 with a complete length one more, no restart", rs: byETag, noRestart: true, lies: map[int]lie{0: cutAt(500), 1: sent(500, 999, 1001, v[500:])},
			wantErr: isChanged, wantPart: v[:500], reqs: []string{get, resumeA}},
		{name: "206 with an unsatisfied Content-Range", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: setH("Content-Range", "bytes */1000")},
			wantErr: isProtocol, wantPart: v[:500], reqs: []string{get, resumeA}},

		// Content-Length: the range's length, or absent.
		{name: "206 with a Content-Length one more", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: all(setH("Content-Length", "501"), withBody(append(v[500:1000:1000], 'x')))},
			wantErr: isProtocol, wantPart: v[:500], reqs: []string{get, resumeA}},
		{name: "206 with a Content-Length one less", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: all(setH("Content-Length", "499"), withBody(v[500:999]))},
			wantErr: isProtocol, wantPart: v[:500], reqs: []string{get, resumeA}},
		{name: "206 with Content-Length 0", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: all(setH("Content-Length", "0"), withBody(nil))},
			wantErr: isProtocol, wantPart: v[:500], reqs: []string{get, resumeA}},
		{name: "206 without Content-Length, to close_notify", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: all(delH("Content-Length"), func(_ httpscript.Request, r *httpscript.Response) { r.End = httpscript.CloseNotify })},
			want: v, reqs: []string{get, resumeA}},
		{name: "206 without Content-Length, a byte longer than its range, 64-byte buffer", rs: byETag, buf: 64, lies: map[int]lie{0: cutAt(500), 1: all(delH("Content-Length"), withBody(append(v[500:1000:1000], 'x')), func(_ httpscript.Request, r *httpscript.Response) { r.End = httpscript.CloseNotify })},
			wantErr: isProtocol, wantPart: v, reqs: []string{get, resumeA}},
		{name: "206 without Content-Length, reset after its range", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: all(delH("Content-Length"), func(_ httpscript.Request, r *httpscript.Response) { r.End = httpscript.Reset })},
			want: v, reqs: []string{get, resumeA, "HEAD"}},
		{name: "206 without Content-Length, cut short", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: all(delH("Content-Length"), withBody(v[500:900]), func(_ httpscript.Request, r *httpscript.Response) { r.End = httpscript.Drop })},
			want: v, retried: 2, reqs: []string{get, resumeA, `GET bytes=900- "A"`}},

		// Chunked bodies: the range, not the framing, says where the
		// body ends.
		{name: "chunked 206 shorter than its range", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: chunkedBody(v[500:900], false)},
			want: v, reqs: []string{get, resumeA, `GET bytes=900- "A"`}},
		{name: "chunked 206 a byte longer than its range", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: chunkedBody(append(v[500:1000:1000], 'x'), false)},
			wantErr: isProtocol, wantPart: v, reqs: []string{get, resumeA}},
		{name: "chunked 206 as long as its range", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: chunkedBody(v[500:], false)},
			want: v, reqs: []string{get, resumeA}},

		// A 200 under the validator held: the validator binds the size.
		{name: "200 again, same ETag and size", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: whole(v)},
			want: v, reqs: []string{get, resumeA}},
		{name: "200 again, same ETag and size, chunked", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: all(whole(v), chunkedBody(v, false))},
			want: v, reqs: []string{get, resumeA}},
		{name: "200 again, same ETag, one byte more", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: whole(other)},
			want: other, reqs: []string{get, resumeA}},
		{name: "200 again, same ETag, one byte less", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: whole(other[:999])},
			want: other[:999], reqs: []string{get, resumeA}},
		{name: "200 again, same ETag, one byte more, no restart", rs: byETag, noRestart: true, lies: map[int]lie{0: cutAt(500), 1: whole(other)},
			wantErr: isChanged, wantPart: v[:500], reqs: []string{get, resumeA}},
		{name: "200 again, same ETag and size, other bytes, SHA-256", rs: byETag, sha: sum(v), lies: map[int]lie{0: cutAt(500), 1: whole(other[:1000])},
			wantErr: isDigest, reqs: []string{get, resumeA}},
		{name: "cut before the first byte, then another ETag, no restart", rs: byETag, noRestart: true, lies: map[int]lie{0: cutAt(0), 1: all(whole(other), setH("ETag", `"B"`))},
			want: other, reqs: []string{get, get}},
		{name: "200 again with another ETag", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: all(whole(other), setH("ETag", `"B"`))},
			want: other, reqs: []string{get, resumeA}},
		{name: "200 again without an ETag", rs: byETag, lies: map[int]lie{0: cutAt(500), 1: all(whole(other[:1000]), delH("ETag"))},
			want: other[:1000], reqs: []string{get, resumeA}},

		// Last-Modified: a date is strong a second before Date, and a 206
		// must show the same one.
		{name: "Last-Modified a second before Date", rs: dateAt(time.Second), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, resumeDate}},
		{name: "Last-Modified at Date, weak", rs: dateAt(0), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, get}},
		{name: "Last-Modified at Date, weak, SHA-256", rs: dateAt(0), sha: sum(v), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, "GET bytes=500-"}},
		{name: "206 with Last-Modified a second later", rs: byDate, lies: map[int]lie{0: cutAt(500), 1: setH("Last-Modified", t0.Add(time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))},
			want: v, reqs: []string{get, resumeDate, get}},
		{name: "206 with Last-Modified a second earlier", rs: byDate, lies: map[int]lie{0: cutAt(500), 1: setH("Last-Modified", t0.Add(-time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))},
			want: v, reqs: []string{get, resumeDate, get}},
		{name: "206 without Last-Modified", rs: byDate, lies: map[int]lie{0: cutAt(500), 1: delH("Last-Modified")},
			want: v, reqs: []string{get, resumeDate, get}},
		{name: "206 without Last-Modified, no restart", rs: byDate, noRestart: true, lies: map[int]lie{0: cutAt(500), 1: delH("Last-Modified")},
			wantErr: isChanged, wantPart: v[:500], reqs: []string{get, resumeDate}},

		// Entity tags: DQUOTE *etagc DQUOTE, etagc %x21 / %x23-7E.
		{name: `empty ETag ""`, rs: etag(`""`), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, `GET bytes=500- ""`}},
		{name: `ETag "!"`, rs: etag(`"!"`), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, `GET bytes=500- "!"`}},
		{name: `ETag "a b", not a tag`, rs: etag(`"a b"`), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, get}},
		{name: `ETag "~"`, rs: etag(`"~"`), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, `GET bytes=500- "~"`}},
		{name: `ETag "a"b", not a tag`, rs: etag(`"a"b"`), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, get}},
		{name: `ETag "a, not a tag`, rs: etag(`"a`), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, get}},
		{name: `ETag ", not a tag`, rs: etag(`"`), lies: map[int]lie{0: cutAt(500)},
			want: v, reqs: []string{get, get}},

		// Ranges without a validator: only a single chunk that is the
		// whole body is safe.
		{name: "first chunk without a validator", rs: none, chunk: 300,
			wantErr: isNoValidator, reqs: []string{"GET bytes=0-299"}},
		{name: "one chunk the whole body, without a validator", rs: none, chunk: 1000,
			want: v, reqs: []string{"GET bytes=0-999"}},
		{name: "one chunk one byte short of the body, without a validator", rs: none, chunk: 999,
			wantErr: isNoValidator, reqs: []string{"GET bytes=0-998"}},

		// All the bytes held, the size unknown (a chunked body cut before
		// its last chunk): a 416 gives the size, and HEAD confirms.
		{name: "416 at the end, HEAD confirms", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true)},
			want: v, reqs: []string{get, `GET bytes=1000- "A"`, "HEAD"}},
		{name: "416 at the end with another ETag", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 1: setH("ETag", `"B"`)},
			want: v, reqs: []string{get, `GET bytes=1000- "A"`, get}},
		{name: "416 at the end without ETag, HEAD confirms", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 1: delH("ETag")},
			want: v, reqs: []string{get, `GET bytes=1000- "A"`, "HEAD"}},
		{name: "416 at the end without Last-Modified, HEAD confirms", rs: byDate, lies: map[int]lie{0: chunkedBody(v, true), 1: delH("Last-Modified")},
			want: v, reqs: []string{get, "GET bytes=1000- " + date, "HEAD"}},
		{name: "416 at the end with another Last-Modified", rs: byDate, lies: map[int]lie{0: chunkedBody(v, true), 1: setH("Last-Modified", t0.Add(time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))},
			want: v, reqs: []string{get, "GET bytes=1000- " + date, get}},
		{name: "416 at the end, HEAD shows another ETag", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 2: setH("ETag", `"B"`)},
			want: v, reqs: []string{get, `GET bytes=1000- "A"`, "HEAD", get}},
		{name: "416 at the end, HEAD shows another size", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 2: setH("Content-Length", "999")},
			want: v, reqs: []string{get, `GET bytes=1000- "A"`, "HEAD", get}},
		{name: "416 at the end, HEAD shows Content-Length 0", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 2: setH("Content-Length", "0")},
			want: v, reqs: []string{get, `GET bytes=1000- "A"`, "HEAD", get}},
		{name: "416 at the end with a satisfied Content-Range", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 1: setH("Content-Range", "bytes 0-999/1000")},
			wantErr: isProtocol, wantPart: v, reqs: []string{get, `GET bytes=1000- "A"`}},
		{name: "416 at the end, HEAD answered 500, retried", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 2: status(500)},
			want: v, reqs: []string{get, `GET bytes=1000- "A"`, "HEAD", `GET bytes=1000- "A"`, "HEAD"}},
		{name: "416 at the end, HEAD answered 500, one retry", rs: byETag, retries: 1, lies: map[int]lie{0: chunkedBody(v, true), 2: status(500)},
			wantErr: isStatus(500), wantPart: v, reqs: []string{get, `GET bytes=1000- "A"`, "HEAD"}},
		{name: "416 at the end, HEAD answered 404", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 2: status(404)},
			want: v, reqs: []string{get, `GET bytes=1000- "A"`, "HEAD", get}},
		{name: "416 a byte before the end", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 1: setH("Content-Range", "bytes */999")},
			want: v, reqs: []string{get, `GET bytes=1000- "A"`, get}},
		{name: "416 a byte past the end", rs: byETag, lies: map[int]lie{0: chunkedBody(v, true), 1: setH("Content-Range", "bytes */1001")},
			wantErr: isProtocol, wantPart: v, reqs: []string{get, `GET bytes=1000- "A"`}},
	}
	// A server whose every answer is cut and carries a new ETag: three
	// restarts, then a *ChangedError, with the first 500 bytes of the last
	// representation kept.
	everyAnswerNew := map[int]lie{}
	for n := range 10 {
		everyAnswerNew[n] = all(cutAt(500), setH("ETag", fmt.Sprintf(`"%d"`, n)))
	}
	cases = append(cases, tc{name: "a new ETag on every answer", rs: byETag, lies: everyAnswerNew,
		wantErr: isChanged, wantPart: v[:500], reqs: []string{get, `GET bytes=500- "0"`, `GET bytes=500- "1"`, `GET bytes=500- "2"`, `GET bytes=500- "3"`}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httpscript.Start(t, httpscript.Lie(c.rs, c.lies))
			url, opt := srv.URL("/fw.bin"), download.Options{
				Dialer:  &tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: srv.Pool()}},
				Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
			}
			opt.RangeChunk, opt.NoRestart, opt.SHA256, opt.Retries, opt.BufferSize = c.chunk, c.noRestart, c.sha, c.retries, c.buf
			path := filepath.Join(t.TempDir(), "fw.bin")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := download.File(ctx, url, path, opt)

			var reqs []string
			for _, r := range srv.Requests() {
				reqs = append(reqs, strings.TrimSpace(strings.Join([]string{r.Method, r.Header.Get("Range"), r.Header.Get("If-Range")}, " ")))
			}
			if c.reqs != nil && fmt.Sprintf("%q", reqs) != fmt.Sprintf("%q", c.reqs) {
				t.Errorf("requests %q\n          want %q", reqs, c.reqs)
			}
			if c.retried != 0 && res.Retries != c.retried {
				t.Errorf("%d retries, want %d (a body cut short of its range is a failure, not an answer)", res.Retries, c.retried)
			}
			if res.Requests != len(reqs) {
				t.Errorf("Result.Requests %d, the server read %d", res.Requests, len(reqs))
			}
			got, ferr := os.ReadFile(path)
			part, perr := os.ReadFile(path + ".part")
			if c.want != nil {
				if err != nil {
					t.Fatalf("download: %v", err)
				}
				if !bytes.Equal(got, c.want) {
					t.Fatalf("the file is %d bytes and not the %d expected", len(got), len(c.want))
				}
				if !errors.Is(perr, os.ErrNotExist) {
					t.Errorf("a partial file is left beside the file")
				}
				return
			}
			if err == nil || !c.wantErr(err) {
				t.Fatalf("err %v (%T); want another", err, err)
			}
			if !errors.Is(ferr, os.ErrNotExist) {
				t.Errorf("a file of %d bytes was renamed into place", len(got))
			}
			switch {
			case c.wantPart == nil && !errors.Is(perr, os.ErrNotExist):
				t.Errorf("a partial file of %d bytes is left; want none", len(part))
			case c.wantPart != nil && !bytes.Equal(part, c.wantPart):
				t.Errorf("the partial file is %d bytes (%v), not the %d true bytes held", len(part), perr, len(c.wantPart))
			case c.wantPart != nil && res.Partial != path+".part":
				t.Errorf("Result.Partial %q, want %q", res.Partial, path+".part")
			}
		})
	}
}

// TestResumeCompleteWithDigest: a partial file that holds every byte of a
// representation without a strong validator (a chunked body cut before its
// last chunk) is continued under Options.SHA256 with a Range from its end;
// the 416 that answers it gives the size, and the digest, not a request
// without validator, decides that the bytes held are the body.
func TestResumeCompleteWithDigest(t *testing.T) {
	v := random(t, 1000)
	srv := httpscript.Start(t, httpscript.Lie(httpscript.Resource{Body: v}, map[int]lie{0: chunkedBody(v, true)}))
	url, opt := srv.URL("/fw.bin"), download.Options{
		Dialer:  &tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: srv.Pool()}},
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Retries: -1,
	}
	path := filepath.Join(t.TempDir(), "fw.bin")
	if _, err := download.File(context.Background(), url, path, opt); err == nil {
		t.Fatal("the cut download succeeded")
	}
	opt.Resume, opt.Retries, opt.SHA256 = true, 0, sum(v)
	res, err := download.File(context.Background(), url, path, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, v) || res.ResumedFrom != 1000 || res.Restarts != 0 {
		t.Errorf("file of %d bytes, resumed from %d, %d restarts; want the body, 1000, 0", len(got), res.ResumedFrom, res.Restarts)
	}
	var reqs []string
	for _, r := range srv.Requests() {
		reqs = append(reqs, strings.TrimSpace(r.Method+" "+r.Header.Get("Range")+" "+r.Header.Get("If-Range")))
	}
	if want := []string{"GET", "GET bytes=1000-"}; fmt.Sprintf("%q", reqs) != fmt.Sprintf("%q", want) {
		t.Errorf("requests %q, want %q", reqs, want)
	}
}
