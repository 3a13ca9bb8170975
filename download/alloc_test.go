package download_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
)

// TestAllocRangeRequests bounds what 512 Range requests of 2048 bytes
// allocate, client and in-process server together: one read buffer serves the
// whole download (a 32 KiB buffer per request, as get had, is 16 MiB here
// alone).
func TestAllocRangeRequests(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's allocations are not the code's")
	}
	body := random(t, 1<<20)
	rs := &resource{}
	rs.set(body, `"a"`, time.Time{})
	url, opt := startHTTPS(t, rs)
	opt.RangeChunk = 2048
	path := filepath.Join(t.TempDir(), "fw.bin")
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := download.File(context.Background(), url, path, opt)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	per := (after.TotalAlloc - before.TotalAlloc) / uint64(res.Requests)
	t.Logf("%d requests, %d B allocated per request (client and server)", res.Requests, per)
	if res.Requests != 512 {
		t.Errorf("%d requests, want 512", res.Requests)
	}
	if per > 16<<10 {
		t.Errorf("%d B allocated per request, above 16 KiB", per)
	}
}
