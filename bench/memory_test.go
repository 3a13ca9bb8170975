package bench

import (
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

const (
	memConns    = 200     // connections open at once
	memDownload = 1 << 20 // bytes each one downloads
)

// retainedBase remembers crypto/tls's retained heap per connection at each
// limit, for the ratios of the clients after it.
var retainedBase = map[string]float64{}

// BenchmarkConnMemory opens 200 connections at once to the out-of-process
// server (so that only the client's heap is counted), downloads 1 MiB on
// each concurrently, and reports per connection:
//   - retained-B/conn: heap still held by the idle connections after two
//     runtime.GC calls (MemStats.HeapAlloc after less before, over 200);
//   - peak-B/conn: the largest heap (live and not yet collected) seen while
//     the handshakes and downloads ran, less the heap before, over 200.
func BenchmarkConnMemory(b *testing.B) {
	srv := remoteServer(b)
	for _, limit := range limits {
		cls := clients
		if limit == 0 || limit == 2048 {
			cls = append(cls[:len(cls):len(cls)], utlsGolangClient)
		}
		for _, cl := range cls {
			b.Run(fmt.Sprintf("%s/%s", limitName(limit), cl.name), func(b *testing.B) {
				o := opts{limit: limit, pool: srv.pool}
				var retained, peak float64
				for b.Loop() {
					r, p := connMemory(b, cl, srv.addrs[limit], o)
					retained += r
					peak += p
				}
				retained /= float64(b.N)
				peak /= float64(b.N)
				b.ReportMetric(retained, "retained-B/conn")
				b.ReportMetric(peak, "peak-B/conn")
				key := limitName(limit)
				if cl.name == stdClient.name {
					retainedBase[key] = retained
				}
				if base, ok := retainedBase[key]; ok && base > 0 {
					b.ReportMetric(retained/base, "retained-ratio-vs-crypto/tls")
				}
				if base, ok := retainedBase[limitName(0)]; ok && base > 0 {
					b.ReportMetric(retained/base, "retained-ratio-vs-crypto/tls-16k")
				}
			})
		}
	}
}

// heapObjects is the runtime/metrics name of MemStats.HeapAlloc.
const heapObjects = "/memory/classes/heap/objects:bytes"

func connMemory(b *testing.B, cl client, addr string, o opts) (retained, peak float64) {
	b.StopTimer()
	conns := make([]io.ReadWriteCloser, memConns)
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.StartTimer()

	stop := make(chan struct{})
	peakc := make(chan uint64)
	go func() {
		sample := []metrics.Sample{{Name: heapObjects}}
		var highest uint64
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			highest = max(highest, sample[0].Value.Uint64())
			select {
			case <-stop:
				peakc <- highest
				return
			case <-t.C:
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, memConns)
	dialing := make(chan struct{}, 16) // a listen backlog may be short
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dialing <- struct{}{}
			c, _, err := dial(cl, addr, o)
			<-dialing
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			buf := make([]byte, 16<<10)
			if err := request(c, opDownload, memDownload); err != nil {
				errs <- err
				return
			}
			if err := readN(c, buf, memDownload); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(stop)
	maxHeap := <-peakc
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}

	b.StopTimer()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(conns)
	retained = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / memConns
	peak = (float64(maxHeap) - float64(before.HeapAlloc)) / memConns
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	b.StartTimer()
	return retained, peak
}
