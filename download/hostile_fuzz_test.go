package download_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
)

// FuzzHostileResponses answers a download with up to eight responses built
// from the input: a status of 200, 206, 416 or 500; the body of one of three
// versions of the resource (two of one size) under its ETag, no ETag, a
// weak one or two; a Content-Length true, too long or absent; a chunked
// body; a Content-Range from any first byte to any last; a body cut short.
// The server never says the other version's ETag over a version's bytes
// and never misstates a version's size where it states one (lies no client
// can see without a digest): everything else may be a lie, and the download
// must never end with a file that is not exactly one of the versions (a
// splice, or a size the server did not give), nor hold more than the
// longest version.
func FuzzHostileResponses(f *testing.F) {
	// A and B are of one size, so that only the validator tells them
	// apart; C is longer.
	versions := [3][]byte{bytes.Repeat([]byte("version A "), 77), bytes.Repeat([]byte("version B "), 77), bytes.Repeat([]byte("version C! "), 91)}
	etags := [3]string{`"A"`, `"B"`, `"C"`}
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 8*8 {
			script = script[:8*8]
		}
		rt := &scriptRT{script: script, versions: versions, etags: etags}
		longest := int64(len(versions[2]))
		path := filepath.Join(t.TempDir(), "fw.bin")
		opt := download.Options{
			Client:  &http.Client{Transport: rt},
			Backoff: time.Nanosecond, MaxBackoff: time.Nanosecond, Retries: 3,
			Progress: func(done, total int64) {
				if st, err := os.Stat(path + ".part"); err == nil && st.Size() > longest {
					t.Fatalf("the partial file holds %d bytes, more than the %d of the longest version", st.Size(), longest)
				}
			},
		}
		if len(script) > 0 && script[0]&0x80 != 0 {
			opt.RangeChunk = 100
		}
		_, err := download.File(context.Background(), "https://fota.example/fw.bin", path, opt)
		got, ferr := os.ReadFile(path)
		if err != nil {
			if ferr == nil {
				t.Fatalf("failed (%v), yet a file is in place", err)
			}
			return
		}
		if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) && !bytes.Equal(got, versions[2]) {
			t.Fatalf("done with a file of %d bytes that is no version: %.40q…", len(got), got)
		}
	})
}

// scriptRT is a RoundTripper that builds each response from 8 bytes of
// script; past its end it answers 404.
type scriptRT struct {
	script   []byte
	versions [3][]byte
	etags    [3]string
}

func (s *scriptRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(s.script) < 8 {
		return &http.Response{StatusCode: 404, Status: "404 Not Found", Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	}
	b := s.script[:8]
	s.script = s.script[8:]
	v := int(b[1]) % 3
	body := s.versions[v]
	h := http.Header{}
	switch b[1] / 3 % 4 {
	case 0:
		h.Set("ETag", s.etags[v])
	case 1:
		// none
	case 2:
		h.Set("ETag", "W/"+s.etags[v])
	case 3:
		h.Add("ETag", s.etags[v])
		h.Add("ETag", s.etags[(v+1)%3])
	}
	first, length := int(b[3])<<8|int(b[4]), int(b[5])<<8|int(b[6])
	first %= len(s.versions[v]) + 1
	var out []byte
	resp := &http.Response{Header: h, Request: req, ContentLength: -1}
	switch b[0] % 4 {
	case 0:
		resp.StatusCode = 200
		out = body
	case 1:
		resp.StatusCode = 206
		end := min(first+length, len(body))
		if first < len(body) {
			out = body[first:end]
		}
		last := first + length - 1
		if b[2]&0x10 != 0 {
			last = end - 1
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(body)))
	case 2:
		resp.StatusCode = 416
		h.Set("Content-Range", "bytes */"+strconv.Itoa(len(s.versions[v])))
	default:
		resp.StatusCode = 500
	}
	if req.Method == http.MethodHead {
		out = nil
	}
	if b[2]&0x04 != 0 && len(out) > 0 {
		out = out[:int(b[7])%len(out)] // cut
	}
	switch {
	case b[2]&0x01 != 0:
		cl := len(out)
		if b[2]&0x04 != 0 {
			cl = len(body) // the length before the cut
		}
		if b[2]&0x08 != 0 {
			// More than is sent: a cut. (Less than is sent is, over a
			// connection, a body of that length, and a lie about the
			// size that only a digest shows.)
			cl += int(b[7])%50 + 1
		}
		resp.ContentLength = int64(cl)
		h.Set("Content-Length", strconv.Itoa(cl))
	case b[2]&0x02 != 0:
		resp.TransferEncoding = []string{"chunked"}
	}
	resp.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)

	var r io.Reader = bytes.NewReader(out)
	if b[2]&0x04 != 0 {
		r = io.MultiReader(r, errReader{io.ErrUnexpectedEOF})
	}
	resp.Body = io.NopCloser(r)
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
