package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

const (
	demoSize  = 1 << 20
	demoLimit = 2048
)

type demoReport struct {
	Server          string       `json:"server"`
	CA              string       `json:"ca"`
	ImageBytes      int64        `json:"image_bytes"`
	SHA256          string       `json:"sha256"`
	SHA256OK        bool         `json:"sha256_ok"`
	RecordBound     int          `json:"record_bound"`
	WithinLimit     bool         `json:"server_records_within_limit"`
	Seconds         float64      `json:"seconds"`
	BytesPerSecond  float64      `json:"bytes_per_second"`
	HeapInUse       uint64       `json:"heap_in_use_bytes"`
	HeapAllocated   uint64       `json:"heap_allocated_during_download_bytes"`
	Connections     int          `json:"connections"`
	Connection      recordReport `json:"connection"`
	ServerAnswering string       `json:"server_answering"`
}

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", "", `
Demonstrates the library with nothing to set up and no network: starts an
HTTPS server on 127.0.0.1 with a throw-away CA made in memory, downloads a
1 MiB image from it over TLS 1.3 offering record_size_limit 2048 and
max_fragment_length 2048, checks its SHA-256 and reports what happened.`)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("demo takes no arguments")
	}

	image := make([]byte, demoSize)
	if _, err := rand.Read(image); err != nil {
		return err
	}
	want := sha256.Sum256(image)

	ta, err := newThrowaway("127.0.0.1", "localhost")
	if err != nil {
		return err
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ln := serverListener(inner, &tls.Config{
		Certificates: []tls.Certificate{ta.Server},
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}, 16384)
	mux := http.NewServeMux()
	mod := time.Now()
	mux.HandleFunc("/image.bin", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "image.bin", mod, bytes.NewReader(image))
	})
	srv := &http.Server{Handler: mux, ErrorLog: quietLog()}
	go srv.Serve(ln)
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AddCert(ta.CA)
	d := &tlsapp.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tlsapp.Config{
		RootCAs:           roots,
		MinVersion:        tls.VersionTLS13,
		MaxVersion:        tls.VersionTLS13,
		RecordSizeLimit:   demoLimit,
		MaxFragmentLength: demoLimit,
	}}
	var mu sync.Mutex
	var conns []*tlsapp.Conn
	tr := tlsapp.NewTransport(d, func(c *tlsapp.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	})
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	url := "https://" + inner.Addr().String() + "/image.bin"

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("downloading the image: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %s", resp.Status)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after) // the connection is still open (idle)
	mu.Lock()
	if len(conns) == 0 {
		mu.Unlock()
		return errors.New("no connection was made")
	}
	rs, nconns := conns[0].RecordState(), len(conns)
	mu.Unlock()
	got := h.Sum(nil)
	r := demoReport{
		Server:        url,
		CA:            ta.CA.Subject.String(),
		ImageBytes:    n,
		SHA256:        hex.EncodeToString(got),
		SHA256OK:      bytes.Equal(got, want[:]),
		RecordBound:   recordBound(rs.Version, rs.CipherSuite, demoLimit),
		Seconds:       elapsed.Seconds(),
		HeapInUse:     after.HeapAlloc,
		HeapAllocated: allocated,
		Connections:   nconns,
		Connection:    reportOf(rs),
		ServerAnswering: "Go's crypto/tls server cannot answer max_fragment_length or record_size_limit, " +
			"so nothing is agreed; tlsapp.NewListener reads the client's offer and keeps the server's records within it anyway",
	}
	r.BytesPerSecond = float64(n) / elapsed.Seconds()
	r.WithinLimit = rs.LargestReceived <= r.RecordBound
	if e.json {
		if err := e.emitJSON(r); err != nil {
			return err
		}
	} else {
		printDemo(e.stdout, r, elapsed)
	}
	if !r.SHA256OK || !r.WithinLimit {
		return errReported
	}
	return nil
}

func printDemo(w io.Writer, r demoReport, elapsed time.Duration) {
	c := r.Connection
	fmt.Fprintf(w, "tlsapp demo: a 1 MiB image over %s with a %d-byte record limit\n\n", c.Version, demoLimit)
	fmt.Fprintf(w, "  server       %s (embedded, tlsapp.NewListener, throw-away CA made in memory)\n", r.Server)
	fmt.Fprintf(w, "  cipher       %s\n", c.CipherSuite)
	fmt.Fprintf(w, "  offered      %s\n", offerString(c.OfferedMaxFragmentLength, c.OfferedRecordSizeLimit))
	fmt.Fprintf(w, "  agreed       %s\n", agreedString(c))
	fmt.Fprintf(w, "               Go's crypto/tls server cannot answer either extension; the listener\n")
	fmt.Fprintf(w, "               still reads the offer and keeps its records within it.\n")
	verdict := "yes"
	if !r.WithinLimit {
		verdict = "NO: the server sent records above the limit the client offered"
	}
	fmt.Fprintf(w, "  honoured     %s (largest server record %d B, bound %d B = %d + protection)\n", verdict, c.LargestReceived, r.RecordBound, demoLimit)
	fmt.Fprintf(w, "  records      received %d, largest %d B; sent %d, largest %d B\n", c.RecordsReceived, c.LargestReceived, c.RecordsSent, c.LargestSent)
	fmt.Fprintf(w, "  handshake    %d B sent, %d B received\n", c.HandshakeBytesSent, c.HandshakeBytesReceived)
	if len(c.Anchors) == 0 {
		fmt.Fprintf(w, "  verified by  (no anchor reported)\n")
	}
	for _, a := range c.Anchors {
		fmt.Fprintf(w, "  verified by  %s\n", a)
	}
	ok := "matches"
	if !r.SHA256OK {
		ok = "MISMATCH"
	}
	fmt.Fprintf(w, "  image        %d B, SHA-256 %s… %s\n", r.ImageBytes, r.SHA256[:16], ok)
	fmt.Fprintf(w, "  throughput   %s in %v over %d connection(s)\n", rate(r.ImageBytes, elapsed), elapsed.Round(time.Millisecond), r.Connections)
	fmt.Fprintf(w, "  heap         %s in use after the download, %s allocated during it\n", byteSize(int64(r.HeapInUse)), byteSize(int64(r.HeapAllocated)))
	fmt.Fprintf(w, "               (runtime.MemStats of this process: client, server and the image together)\n")
}

// recordBound is the longest record on the wire that carries at most limit
// content bytes in the given version and cipher suite: TLS 1.3 adds the inner
// content-type byte and the tag, TLS 1.2 the explicit nonce (AES-GCM) and tag.
func recordBound(version, suite uint16, limit int) int {
	exp := expansion(version, suite)
	if version == tls.VersionTLS13 {
		return limit + 1 + exp
	}
	return limit + exp
}

func expansion(version, suite uint16) int { return recordlimit.Expansion(version, suite) }

// quietLog discards net/http's server log (handshake errors of probes and
// clients that hang up).
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
