package edge

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// BenchmarkRanges measures what item 3's authorization costs Nordic's
// downloader, which fetches an image in 2048-byte Range requests one after
// the other on one connection: each request waits for a conditional
// request to the origin (answered 304), unless the operator lets the edge
// answer query-less URLs from the cache within max-age. The origin is
// delayed by 0 or 20 ms per answer, a near and a distant origin. Per op:
// one 64 KiB image in 32 ranges; ns/range and origin requests per range.
//
//	go test -run '^$' -bench Ranges -benchtime 20x ./edge
func BenchmarkRanges(b *testing.B) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		for _, maxAge := range []bool{false, true} {
			name := fmt.Sprintf("origin-delay=%s/auth=origin", delay)
			if maxAge {
				name = fmt.Sprintf("origin-delay=%s/auth=cache-within-max-age", delay)
			}
			b.Run(name, func(b *testing.B) {
				_, pool := testChain(b)
				origin := startOrigin(b)
				image := randomBytes(64 << 10)
				origin.put("/fw", &originObject{body: image, etag: `"r"`, cc: "max-age=3600"})
				edge := startEdge(b, origin, b.TempDir(), func(c *Config, _ *ServeOptions) { c.CacheOnlyWithinMaxAge = maxAge })
				c := modemClient(pool, edge.addr, nil)
				c.Transport.(*http.Transport).DisableKeepAlives = false
				if _, _, err := tryGet(c, "GET", "https://127.0.0.1/fw"); err != nil {
					b.Fatal(err)
				}
				origin.mu.Lock()
				origin.delay = delay
				origin.mu.Unlock()
				before := len(origin.requests())
				b.ResetTimer()
				ranges := 0
				for range b.N {
					for off := 0; off < len(image); off += 2048 {
						resp, body, err := tryGet(c, "GET", "https://127.0.0.1/fw", "Range", fmt.Sprintf("bytes=%d-%d", off, off+2047))
						if err != nil || resp.StatusCode != 206 || len(body) != 2048 {
							b.Fatalf("range at %d: %v", off, err)
						}
						ranges++
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ranges), "ns/range")
				b.ReportMetric(float64(len(origin.requests())-before)/float64(ranges), "origin-req/range")
			})
		}
	}
}
