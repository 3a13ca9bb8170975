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
	Without         demoWithout  `json:"without_tlsapp"`
}

// demoWithout is the same download from the same server without tlsapp's
// listener in front of it: crypto/tls's records outgrow the device.
type demoWithout struct {
	Server    string `json:"server"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
	Bytes     int64  `json:"bytes"`      // of the image, before the failure
	RecordLen int    `json:"record_len"` // the record the device could not hold
}

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", "", `
Shows what the library does for a device whose TLS holds records of at most
2048 bytes, with nothing to set up and no network: it starts two HTTPS
servers on 127.0.0.1 with a throw-away CA made in memory, the same Go
crypto/tls server twice, once as it is and once behind tlsapp.NewListener
(tlsapp.ServeTLS), and downloads a 1 MiB image from each with the tlsapp
client, which offers record_size_limit and max_fragment_length 2048 over TLS
1.3 and fails, as the device would (Config.DeviceLimit), on any record
longer than that. From crypto/tls alone the download fails once its records
grow to 16 KiB; through the listener every record stays within the offer,
and the image arrives whole, its SHA-256 checked.`)
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
	mux := http.NewServeMux()
	mod := time.Now()
	mux.HandleFunc("/image.bin", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "image.bin", mod, bytes.NewReader(image))
	})
	cfg := &tls.Config{Certificates: []tls.Certificate{ta.Server}, MinVersion: tls.VersionTLS12}

	// The same server twice: crypto/tls alone, and behind the listener.
	plainLn, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		return err
	}
	plain := &http.Server{Handler: mux, ErrorLog: quietLog()}
	go plain.Serve(plainLn)
	defer plain.Close()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ErrorLog: quietLog(), TLSConfig: cfg}
	go tlsapp.ServeTLS(srv, inner, "", "", tlsapp.ServerOptions{})
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AddCert(ta.CA)
	d := &tlsapp.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tlsapp.Config{
		RootCAs:           roots,
		MinVersion:        tls.VersionTLS13,
		MaxVersion:        tls.VersionTLS13,
		RecordSizeLimit:   demoLimit,
		MaxFragmentLength: demoLimit,
		DeviceLimit:       demoLimit,
	}}

	var without demoWithout
	without.Server = "https://" + plainLn.Addr().String() + "/image.bin"
	without.Bytes, err = demoGet(ctx, d, without.Server, io.Discard, nil)
	var dle *tlsapp.DeviceLimitError
	switch {
	case err == nil:
		without.OK = true
	case errors.As(err, &dle):
		without.Error, without.RecordLen = dle.Error(), dle.Len
	default:
		return fmt.Errorf("downloading from crypto/tls alone: %w", err)
	}

	var mu sync.Mutex
	var conns []*tlsapp.Conn
	url := "https://" + inner.Addr().String() + "/image.bin"
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	h := sha256.New()
	n, err := demoGet(ctx, d, url, h, func(c *tlsapp.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("downloading the image through tlsapp.NewListener: %w", err)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
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
		Without: without,
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

// demoGet downloads url into w with a client over d and returns the bytes
// of the body it got.
func demoGet(ctx context.Context, d *tlsapp.Dialer, url string, w io.Writer, onConn func(*tlsapp.Conn)) (int64, error) {
	tr := tlsapp.NewTransport(d, onConn)
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: tr, Timeout: time.Minute}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("server answered %s", resp.Status)
	}
	return io.Copy(w, resp.Body)
}

func printDemo(w io.Writer, r demoReport, elapsed time.Duration) {
	c := r.Connection
	fmt.Fprintf(w, "tlsapp demo: a 1 MiB image for a device whose TLS holds records of at most %d bytes\n\n", demoLimit)
	fmt.Fprintf(w, "  offered      %s (%s, %s)\n", offerString(c.OfferedMaxFragmentLength, c.OfferedRecordSizeLimit), c.Version, c.CipherSuite)
	if r.Without.OK {
		fmt.Fprintf(w, "  without      a Go crypto/tls server alone: done, its records happened to fit\n")
	} else {
		fmt.Fprintf(w, "  without      a Go crypto/tls server alone: FAILED after %s of the image, on a %d B record\n", byteSize(r.Without.Bytes), r.Without.RecordLen)
		fmt.Fprintf(w, "               that the device cannot hold (EMSGSIZE): crypto/tls ignores the offer\n")
	}
	ok := "SHA-256 matches"
	if !r.SHA256OK {
		ok = "SHA-256 MISMATCH"
	}
	fmt.Fprintf(w, "  with         the same server behind tlsapp.NewListener: done, %d B, %s\n", r.ImageBytes, ok)
	verdict := "every one within the offer"
	if !r.WithinLimit {
		verdict = "ABOVE the limit the client offered"
	}
	fmt.Fprintf(w, "  records      %d received, the largest %d B (%d + protection: %s)\n", c.RecordsReceived, c.LargestReceived, demoLimit, verdict)
	fmt.Fprintf(w, "               crypto/tls cannot answer the extensions; the listener reads the offer\n")
	fmt.Fprintf(w, "               and keeps every record within it, handshake records included\n")
	fmt.Fprintf(w, "  handshake    %d B sent, %d B received\n", c.HandshakeBytesSent, c.HandshakeBytesReceived)
	if len(c.Anchors) == 0 {
		fmt.Fprintf(w, "  verified by  (no anchor reported)\n")
	}
	for _, a := range c.Anchors {
		fmt.Fprintf(w, "  verified by  %s\n", a)
	}
	fmt.Fprintf(w, "  throughput   %s in %v\n", rate(r.ImageBytes, elapsed), elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  heap         %s in use after the download, %s allocated during it\n", byteSize(int64(r.HeapInUse)), byteSize(int64(r.HeapAllocated)))
	fmt.Fprintf(w, "               (runtime.MemStats of this process: client, servers and the image together)\n")
	fmt.Fprintf(w, "\nNext: tlsapp probe https://your-server/fw.bin (will a device work with it?),\ntlsapp help get, tlsapp help serve.\n")
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
