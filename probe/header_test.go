package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// TestHeaderReachesServer: Options.Header goes with every request Run and
// MeasureRange make, as the server reads them, and a server that refuses
// requests without the token would refuse the probe without it; a
// User-Agent in it replaces the probe's. Fields the probe sets itself are
// refused before anything is dialled.
func TestHeaderReachesServer(t *testing.T) {
	p := newPKI(t, time.Now().Add(24*time.Hour))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 64<<10)
	var mu sync.Mutex
	var seen, refused int
	var agents []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		agents = append(agents, r.UserAgent())
		if r.Header.Get("Authorization") != "Bearer t0ken" || r.Header.Get("X-Device") != "42" {
			refused++
			http.Error(w, "no token", http.StatusForbidden)
			return
		}
		seen++
		http.ServeContent(w, r, "fw.bin", time.Unix(1700000000, 0), strings.NewReader(body))
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tlsapp.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{p.leaf.TLS()}}, tlsapp.ServerOptions{MaxRecord: 2048}))
	t.Cleanup(func() { srv.Close() })

	h := http.Header{"Authorization": {"Bearer t0ken"}, "X-Device": {"42"}, "User-Agent": {"fleet-updater/3"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := Options{Addr: inner.Addr().String(), Config: tlsapp.Config{RootCAs: p.pool}, ReadTime: 5 * time.Second,
		DeviceLimit: 2048, Header: h}
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Range == nil || r.Range.Chunk == 0 {
		t.Fatalf("no Range chunk measured: %+v (%v)", r.Range, r.RangeError)
	}
	mu.Lock()
	if seen == 0 || refused != 0 {
		t.Errorf("the server took %d requests and refused %d: the header did not go with every one", seen, refused)
	}
	for _, a := range agents {
		if a != "fleet-updater/3" {
			t.Errorf("User-Agent %q, want the header's", a)
		}
	}
	mu.Unlock()

	o.Header = http.Header{"Range": {"bytes=0-"}}
	if _, err := Run(ctx, o); !errors.Is(err, download.ErrHeader) {
		t.Errorf("a Range field: %v, want download.ErrHeader", err)
	}
	o.Header = http.Header{"X-Evil": {"a\r\nHost: elsewhere"}}
	if _, err := MeasureRange(ctx, o); !errors.Is(err, download.ErrHeader) {
		t.Errorf("a value with a line break: %v, want download.ErrHeader", err)
	}
}
