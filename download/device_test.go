package download_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// deviceOptions makes the client fail on records above limit content
// bytes, as a device's TLS does (tlsapp.Config.DeviceLimit).
func deviceOptions(opt download.Options, limit int) download.Options {
	cfg := *opt.Dialer.Config
	cfg.DeviceLimit = limit
	opt.Dialer = &tlsapp.Dialer{Config: &cfg}
	return opt
}

// TestRangeShrink: against Go's crypto/tls, which sends each answer
// (header and a 2048-byte chunk) in one record once a connection has sent
// a few, a client that fails like a 2048-byte device gets EMSGSIZE. With
// RangeShrink the download steps the chunk down by 128 bytes at a time,
// each time from the offset it had reached on a new connection, and ends
// with the whole body; without it, the download fails with the
// EMSGSIZE-like error and is not retried. Each failed connection's
// RecordState is in the Result, with the refused record.
func TestRangeShrink(t *testing.T) {
	body := random(t, 300<<10)
	url, opt := startHTTPS(t, &resource{body: body, etag: `"v1"`})
	opt = deviceOptions(opt, 2048)
	opt.RangeChunk = 2048

	if _, err := download.Stream(context.Background(), url, new(bytes.Buffer), opt); !errors.Is(err, syscall.EMSGSIZE) || !errors.Is(err, tlsapp.ErrDeviceLimit) {
		t.Fatalf("without RangeShrink: %v, want the device-limit error", err)
	}

	var ev events
	opt.Event, opt.RangeShrink = ev.add, true
	var out bytes.Buffer
	res, err := download.Stream(context.Background(), url, &out, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), body) || !bytes.Equal(res.SHA256, sum(body)) {
		t.Fatal("the body differs")
	}
	shrinks := ev.count(download.EventShrink)
	if shrinks == 0 || res.RangeChunk != 2048-128*shrinks || res.Retries != 0 {
		t.Errorf("%d shrinks, chunk %d, %d retries", shrinks, res.RangeChunk, res.Retries)
	}
	if len(res.Connections) != shrinks+1 {
		t.Fatalf("%d connections reported for %d shrinks", len(res.Connections), shrinks)
	}
	for i, rs := range res.Connections[:shrinks] {
		if b := 2048 + 8 + 16; rs.LargestReceived <= b {
			t.Errorf("failed connection %d: largest record %d, not above %d", i, rs.LargestReceived, b)
		}
	}
	last := res.Connections[shrinks]
	if b := recordlimit.Expansion(last.Version, last.CipherSuite) + 2048 + 1; last.LargestReceived > b {
		t.Errorf("the last connection received a %d B record, above %d", last.LargestReceived, b)
	}
	t.Logf("%d shrinks to %d; largest per connection %v", shrinks, res.RangeChunk, largestOf(res))
}

// TestConnectionKeptOnError is the check of issue 18, item 7, in the
// library: a connection whose handshake completed and whose answer then
// failed before its header arrived (its first record above the device's
// limit, as gnutls sends 16 KiB records after agreeing MFL in TLS 1.2) is
// in Result.Connections with what its record layer saw.
func TestConnectionKeptOnError(t *testing.T) {
	body := random(t, 200<<10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{DynamicRecordSizingDisabled: true} // 16 KiB from the first record
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	url := srv.URL + "/fw.bin"
	opt := download.Options{Dialer: &tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: pool}}}
	opt = deviceOptions(opt, 2048)
	res, err := download.File(context.Background(), url, filepath.Join(t.TempDir(), "fw.bin"), opt)
	var dle *tlsapp.DeviceLimitError
	if !errors.As(err, &dle) {
		t.Fatalf("err %v, want a *tlsapp.DeviceLimitError", err)
	}
	if len(res.Connections) != 1 {
		t.Fatalf("%d connections in the result, want the failed one", len(res.Connections))
	}
	rs := res.Connections[0]
	if rs.Version == 0 || rs.CipherSuite == 0 || rs.LargestReceived != dle.Len || rs.HandshakeBytesReceived == 0 {
		t.Errorf("record state %v, error %v", rs, dle)
	}
	if download.Cause(err) != "emsgsize" || download.Retriable(err) {
		t.Errorf("cause %q, retriable %v", download.Cause(err), download.Retriable(err))
	}
}

func largestOf(res *download.Result) []int {
	var n []int
	for _, rs := range res.Connections {
		n = append(n, rs.LargestReceived)
	}
	return n
}
