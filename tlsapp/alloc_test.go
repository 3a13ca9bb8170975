package tlsapp

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
)

// ownSites returns the allocations so far whose allocating function (the
// innermost frame outside the runtime) is in this module's library
// packages, by function and line, and, apart, those made by a buffer
// pool's New function on a Get: pool refills.
func ownSites() (sites, refills map[string]int64) {
	runtime.GC()
	runtime.GC() // the profile lags up to two cycles
	n, _ := runtime.MemProfile(nil, true)
	recs := make([]runtime.MemProfileRecord, n+100)
	n, _ = runtime.MemProfile(recs, true)
	sites, refills = map[string]int64{}, map[string]int64{}
	for _, r := range recs[:n] {
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if strings.HasPrefix(f.Function, "runtime.") && more {
				continue
			}
			if own(f) {
				site := fmt.Sprintf("%s:%d", f.Function, f.Line)
				if caller, _ := frames.Next(); caller.Function == "sync.(*Pool).Get" {
					refills[site] += r.AllocObjects
				} else {
					sites[site] += r.AllocObjects
				}
			}
			break
		}
	}
	return sites, refills
}

func own(f runtime.Frame) bool {
	for _, pkg := range []string{"github.com/tlsapp/tlsapp/tlsapp.", "github.com/tlsapp/tlsapp/internal/guard.", "github.com/tlsapp/tlsapp/recordlimit."} {
		if strings.HasPrefix(f.Function, pkg) && !strings.HasSuffix(f.File, "_test.go") {
			return true
		}
	}
	return false
}

// TestSteadyStateAllocations checks that, once a connection is warm, Write
// and Read allocate nothing in tlsapp, its guard and recordlimit: every
// allocation of the steady state (TLS 1.3, 2048-byte records, 1 KiB and
// 16 KiB operations) is made by the TLS stack underneath. The benchmark
// (BenchmarkSteadyState in ./bench) counts the stack's own, once per
// record it is handed.
func TestSteadyStateAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("profiles every allocation")
	}
	for _, size := range []int{1 << 10, 16 << 10} {
		t.Run(fmt.Sprintf("%dKiB", size>>10), func(t *testing.T) {
			addr := startGoServer(t, &tls.Config{}, echo)
			c := dialTest(t, addr, Config{MinVersion: tls.VersionTLS13, RecordSizeLimit: 2048, SendRecordLimit: 2048})
			buf := make([]byte, size)
			roundTrip := func() {
				if _, err := c.Write(buf); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Fatal(err)
				}
			}
			for range 20 { // warm up: buffers grow, pools fill
				roundTrip()
			}
			old := runtime.MemProfileRate
			runtime.MemProfileRate = 1
			defer func() { runtime.MemProfileRate = old }()
			before, refillsBefore := ownSites()
			for range 200 {
				roundTrip()
			}
			after, refillsAfter := ownSites()
			for site, n := range after {
				if d := n - before[site]; d > 0 {
					t.Errorf("%s allocated %d objects in 200 round trips of %d bytes", site, d, size)
				}
			}
			// The buffer pools refill after each garbage collection
			// (ownSites runs two): a few allocations, not one per
			// operation. Under the race detector sync.Pool also drops
			// buffers at random, so refills are not counted there.
			for site, n := range refillsAfter {
				if d := n - refillsBefore[site]; d > 10 && !raceEnabled {
					t.Errorf("pool %s refilled %d times in 200 round trips of %d bytes", site, d, size)
				}
			}
		})
	}
}

// TestServerSteadyStateAllocations checks the same of the server: once a
// NewListener connection (cap 2048) is warm, its Read and Write allocate
// nothing in tlsapp, its guard and recordlimit, in TLS 1.2 and 1.3, for a
// Write of one record (1 KiB), of a batch (16 KiB) and of more than a
// batch (100 KiB, two transport writes). The client is tlsapp too, sending
// 2048-byte records, so that the server's guard reads ahead over several
// records; its own allocations are counted alike.
func TestServerSteadyStateAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("profiles every allocation")
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, size := range []int{1 << 10, 16 << 10, 100 << 10} {
			t.Run(fmt.Sprintf("%s/%dKiB", versionName(v), size>>10), func(t *testing.T) {
				inner, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				cfg := &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}, MinVersion: v, MaxVersion: v}
				ln := NewListener(inner, cfg, ServerOptions{MaxRecord: 2048})
				// Read a whole message, then answer it in one Write.
				testnet.Serve(t, ln, time.Minute, func(c net.Conn) {
					buf := make([]byte, size)
					for {
						if _, err := io.ReadFull(c, buf); err != nil {
							return
						}
						if _, err := c.Write(buf); err != nil {
							return
						}
					}
				})
				c := dialTest(t, inner.Addr().String(), Config{MinVersion: v, MaxVersion: v, RecordSizeLimit: 2048, SendRecordLimit: 2048})
				buf := make([]byte, size)
				roundTrip := func() {
					if _, err := c.Write(buf); err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadFull(c, buf); err != nil {
						t.Fatal(err)
					}
				}
				for range 20 { // warm up: buffers grow, pools fill
					roundTrip()
				}
				old := runtime.MemProfileRate
				runtime.MemProfileRate = 1
				defer func() { runtime.MemProfileRate = old }()
				before, refillsBefore := ownSites()
				for range 200 {
					roundTrip()
				}
				after, refillsAfter := ownSites()
				for site, n := range after {
					if d := n - before[site]; d > 0 {
						t.Errorf("%s allocated %d objects in 200 round trips of %d bytes", site, d, size)
					}
				}
				for site, n := range refillsAfter {
					if d := n - refillsBefore[site]; d > 10 && !raceEnabled {
						t.Errorf("pool %s refilled %d times in 200 round trips of %d bytes", site, d, size)
					}
				}
			})
		}
	}
}
