package download_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
)

// busy serves 503 to every request and counts them.
func busy(t *testing.T) (string, download.Options, *atomic.Int64) {
	var n atomic.Int64
	url, opt := startHTTPS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	return url, opt, &n
}

// TestBackoffSequence checks each retry's wait against Backoff doubled per
// failure in a row and capped by MaxBackoff, drawn between half and all of
// it: with 1ms and 8ms, [0.5, 1], [1, 2], [2, 4], then [4, 8] ms.
func TestBackoffSequence(t *testing.T) {
	url, opt, _ := busy(t)
	var ev events
	opt.Backoff, opt.MaxBackoff, opt.Retries, opt.Event = time.Millisecond, 8*time.Millisecond, 6, ev.add
	if _, err := download.Stream(context.Background(), url, &bytes.Buffer{}, opt); err == nil {
		t.Fatal("a 503 download succeeded")
	}
	caps := []time.Duration{1, 2, 4, 8, 8, 8}
	if len(ev.all) != len(caps) {
		t.Fatalf("%d events, want %d retries", len(ev.all), len(caps))
	}
	for i, e := range ev.all {
		hi := caps[i] * time.Millisecond
		if e.Kind != download.EventRetry || e.Attempt != i+1 || e.Wait < hi/2 || e.Wait > hi {
			t.Errorf("event %d: %s attempt %d wait %v; want retry attempt %d waiting within [%v, %v]", i, e.Kind, e.Attempt, e.Wait, i+1, hi/2, hi)
		}
	}
}

// TestTinyBackoff: a wait of a nanosecond or two is drawn without a
// failure and is never longer than asked.
func TestTinyBackoff(t *testing.T) {
	for _, d := range []time.Duration{1, 2, 3} {
		url, opt, _ := busy(t)
		var ev events
		opt.Backoff, opt.MaxBackoff, opt.Retries, opt.Event = d, d, 3, ev.add
		if _, err := download.Stream(context.Background(), url, &bytes.Buffer{}, opt); err == nil {
			t.Fatal("a 503 download succeeded")
		}
		if len(ev.all) != 3 {
			t.Fatalf("backoff %v: %d events, want 3 retries", d, len(ev.all))
		}
		for _, e := range ev.all {
			if e.Wait < d/2 || e.Wait > d {
				t.Errorf("backoff %v: waits %v", d, e.Wait)
			}
		}
	}
}

// TestRetriesCount: Options.Retries failures in a row are retried, not
// one more or fewer, as the server counts the requests; negative means
// one attempt.
func TestRetriesCount(t *testing.T) {
	for _, tc := range []struct{ retries, requests int }{{-1, 1}, {1, 2}, {2, 3}, {0, 6}} {
		url, opt, n := busy(t)
		opt.Retries = tc.retries
		res, err := download.Stream(context.Background(), url, &bytes.Buffer{}, opt)
		if err == nil {
			t.Fatal("a 503 download succeeded")
		}
		if got := n.Load(); got != int64(tc.requests) || res.Retries != tc.requests-1 {
			t.Errorf("Retries %d: the server saw %d requests, Result.Retries %d; want %d, %d", tc.retries, got, res.Retries, tc.requests, tc.requests-1)
		}
	}
}

// TestIdleBeforeHeaders: a server that accepts the request and says
// nothing is given up on after IdleTimeout, as an idle timeout (retried),
// not as a cancellation.
func TestIdleBeforeHeaders(t *testing.T) {
	body := random(t, 10<<10)
	var n atomic.Int64
	stall := make(chan struct{})
	url, opt := startHTTPS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-stall
			return
		}
		w.Write(body)
	}))
	t.Cleanup(func() { close(stall) })
	var ev events
	opt.IdleTimeout, opt.Event = 100*time.Millisecond, ev.add
	var out bytes.Buffer
	if _, err := download.Stream(context.Background(), url, &out, opt); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), body) {
		t.Fatal("wrong body")
	}
	if len(ev.all) != 1 || ev.all[0].Reason != "idle-timeout" || ev.all[0].Offset != 0 {
		t.Errorf("events %+v, want one idle-timeout retry at 0", ev.all)
	}

	// Without retries the error is the idle timeout, saying how long.
	n.Store(0)
	opt.Retries, opt.Event = -1, nil
	_, err := download.Stream(context.Background(), url, &bytes.Buffer{}, opt)
	if !errors.Is(err, download.ErrIdleTimeout) || !strings.HasSuffix(err.Error(), "(100ms)") {
		t.Errorf("err %v, want ErrIdleTimeout ending in (100ms)", err)
	}
}

// TestLeftoverPartFile: without Resume, a partial file left by an earlier
// run is dropped with a restart event saying so and its size; an empty one
// or none gives no event. With Resume, an empty partial file with a
// sidecar is not "resumed" from byte 0: the download simply starts.
func TestLeftoverPartFile(t *testing.T) {
	body := random(t, 50<<10)
	url, opt := startHTTPS(t, &resource{body: body, etag: `"v1"`})
	for _, tc := range []struct {
		name   string
		held   int64
		resume bool
		want   []download.Event
	}{
		{"none", -1, false, nil},
		{"empty", 0, false, nil},
		{"empty, resume", 0, true, nil},
		{"held", 1000, false, []download.Event{{Kind: download.EventRestart, Offset: 1000, Reason: "not resuming"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fw.bin")
			if tc.held >= 0 {
				interrupted(t, url, path, opt, 1) // leaves a partial file and its sidecar
				if err := os.Truncate(path+".part", tc.held); err != nil {
					t.Fatal(err)
				}
			}
			var ev events
			o := opt
			o.Resume, o.Event = tc.resume, ev.add
			if _, err := download.File(context.Background(), url, path, o); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, body) {
				t.Fatal("wrong body")
			}
			if len(ev.all) != len(tc.want) {
				t.Fatalf("events %+v, want %+v", ev.all, tc.want)
			}
			for i, w := range tc.want {
				if g := ev.all[i]; g.Kind != w.Kind || g.Offset != w.Offset || g.Reason != w.Reason {
					t.Errorf("event %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
