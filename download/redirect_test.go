package download_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tlsapp/tlsapp/download"
)

// TestRedirects: a download follows up to 10 redirects to https URLs and
// refuses the 11th, and any redirect to http, whose server is never
// contacted.
func TestRedirects(t *testing.T) {
	body := random(t, 1000)
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	var plainConns atomic.Int64
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			plainConns.Add(1)
			c.Close()
		}
	}()
	var reqs atomic.Int64
	url, opt := startHTTPS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		switch rest, _ := strings.CutPrefix(r.URL.Path, "/r/"); {
		case rest == "http":
			http.Redirect(w, r, "http://"+plain.Addr().String()+"/fw.bin", http.StatusFound)
		case rest == "0" || rest == r.URL.Path:
			w.Write(body)
		default:
			n, _ := strconv.Atoi(rest)
			http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusFound)
		}
	}))
	base := strings.TrimSuffix(url, "/fw.bin")
	opt.Retries = -1
	for _, tc := range []struct {
		path string
		ok   bool
		reqs int64
	}{
		{"/r/1", true, 2},
		{"/r/10", true, 11},
		{"/r/11", false, 11},
		{"/r/http", false, 1},
	} {
		reqs.Store(0)
		var out bytes.Buffer
		_, err := download.Stream(context.Background(), base+tc.path, &out, opt)
		if tc.ok != (err == nil) || tc.ok && !bytes.Equal(out.Bytes(), body) {
			t.Errorf("%s: %v, %d bytes; want success %v", tc.path, err, out.Len(), tc.ok)
		}
		if got := reqs.Load(); got != tc.reqs {
			t.Errorf("%s: the server saw %d requests, want %d", tc.path, got, tc.reqs)
		}
	}
	if n := plainConns.Load(); n != 0 {
		t.Errorf("the http server was contacted %d times", n)
	}
}
