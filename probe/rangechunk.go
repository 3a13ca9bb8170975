package probe

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tlsapp/tlsapp/internal/httprange"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// Errors of MeasureRange.
var (
	// ErrNoRange: the server does not answer Range requests with 206.
	ErrNoRange = errors.New("probe: the server does not serve byte ranges")
	// ErrNoChunkFits: even a one-byte range comes in a record above the
	// limit (the header alone is too large, or the server ignores the
	// chunk size).
	ErrNoChunkFits = errors.New("probe: no range chunk keeps the records within the limit")
)

// RangeTry is one measured Range request.
type RangeTry struct {
	Chunk       int   `json:"chunk"`
	HeaderBytes int   `json:"header_bytes"`
	Largest     int   `json:"largest_record"`
	Records     []int `json:"records"`
	Fits        bool  `json:"fits"`
}

// RangeResult is what MeasureRange found.
type RangeResult struct {
	// Chunk is the largest Range chunk, at most DeviceLimit, for which
	// every record of the server's answer stayed within Bound.
	Chunk       int    `json:"chunk"`
	DeviceLimit int    `json:"device_limit"`
	Bound       int    `json:"bound"`
	Version     string `json:"version"`
	Suite       string `json:"cipher_suite"`
	// Size is the resource's complete length (from Content-Range).
	Size int64 `json:"size"`
	// HeaderBytes is the response header of the last request measured.
	HeaderBytes int        `json:"header_bytes"`
	Tries       []RangeTry `json:"tries"`
}

// maxTries bounds the requests MeasureRange makes after the first.
const maxTries = 6

// RangeChunk returns the largest HTTP Range chunk of the resource at
// rawURL (https://host:port/path) for which every record of the server's
// 206 answers stays within deviceLimit content bytes. See MeasureRange.
func RangeChunk(ctx context.Context, rawURL string, deviceLimit int, cfg *tlsapp.Config) (int, error) {
	r, err := MeasureRange(ctx, rawURL, deviceLimit, cfg)
	if err != nil {
		return 0, err
	}
	return r.Chunk, nil
}

// MeasureRange finds the largest Range chunk, at most deviceLimit bytes,
// for which every application record of the server's answer stays within
// deviceLimit content bytes, for a device that cannot negotiate smaller
// records. It asks for the size of the resource (bytes=0-0), then for the
// last chunk of the resource, where the Content-Range header has the most
// digits and the header is at its longest; when the largest record is
// above the bound of the version and suite in use, it shrinks the chunk by
// the excess and measures again. Each request is one connection made with
// cfg (nil: verify against the system pool), with Connection: close.
//
// A server that puts the header and the body in one record (Go's net/http
// does for a body that fits its 4 KiB buffer) gets chunk = limit - header;
// one that sends the header in a record of its own, the limit itself.
// Headers that vary in length by more than the Content-Range digits (a
// different ETag per chunk) are not foreseen.
func MeasureRange(ctx context.Context, rawURL string, deviceLimit int, cfg *tlsapp.Config) (*RangeResult, error) {
	return measureRange(ctx, rawURL, deviceLimit, cfg, nil)
}

// MeasureRange is the package's MeasureRange with o.Config, reporting every
// record to o.Trace; the other fields of o are not used.
func (o Options) MeasureRange(ctx context.Context, rawURL string, deviceLimit int) (*RangeResult, error) {
	return measureRange(ctx, rawURL, deviceLimit, &o.Config, o.Trace)
}

func measureRange(ctx context.Context, rawURL string, deviceLimit int, cfg *tlsapp.Config, trace func(string, tlsapp.TraceRecord)) (*RangeResult, error) {
	if deviceLimit < 64 || deviceLimit > 16384 {
		return nil, fmt.Errorf("probe: device limit %d is outside 64..16384", deviceLimit)
	}
	addr, host, path, err := ParseTarget(rawURL)
	if err != nil {
		return nil, err
	}
	if path == "" {
		path = "/"
	}
	if _, err := url.Parse(rawURL); err != nil {
		return nil, err
	}
	o := &Options{Addr: addr, Host: host, Path: path, ReadMax: 1 << 20, ReadTime: 30 * time.Second, Timeout: 30 * time.Second, Trace: trace}
	if cfg != nil {
		o.Config = *cfg
	}
	if o.Config.ServerName == "" {
		o.Config.ServerName = host
	}
	if dl, ok := ctx.Deadline(); ok {
		o.ReadTime = time.Until(dl)
	}
	first, err := o.rangeGet(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	res := &RangeResult{DeviceLimit: deviceLimit, Size: first.size}
	chunk := deviceLimit
	for range maxTries {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		chunk = int(min(int64(chunk), res.Size))
		start := res.Size - int64(chunk)
		a, err := o.rangeGet(ctx, start, res.Size-1)
		if err != nil {
			return nil, err
		}
		res.Version, res.Suite = versionName(a.rs.Version), suiteName(a.rs.CipherSuite)
		res.Bound = RecordBound(a.rs.Version, a.rs.CipherSuite, deviceLimit)
		a.trace.mu.Lock()
		try := RangeTry{Chunk: chunk, HeaderBytes: a.header, Records: append([]int(nil), a.trace.layout...)}
		a.trace.mu.Unlock()
		for _, n := range try.Records {
			try.Largest = max(try.Largest, n)
		}
		try.Fits = try.Largest <= res.Bound
		res.Tries = append(res.Tries, try)
		res.HeaderBytes = a.header
		if try.Fits {
			res.Chunk = chunk
			return res, nil
		}
		next := chunk - (try.Largest - res.Bound)
		if next >= chunk {
			next = chunk - 1
		}
		if next <= 0 {
			break
		}
		chunk = next
	}
	return res, ErrNoChunkFits
}

// rangeAnswer is a measured 206.
type rangeAnswer struct {
	*attempt
	size int64
}

// rangeGet fetches bytes first..last on a new connection and checks the
// answer is the 206 asked for.
func (o *Options) rangeGet(ctx context.Context, first, last int64) (rangeAnswer, error) {
	cfg := o.Config
	hw := &rangeHeader{}
	rng := fmt.Sprintf("bytes=%d-%d", first, last)
	a := o.connectWith(ctx, "range "+rng, &cfg, o.Path, "Range: "+rng+"\r\n", hw)
	if a.err != nil {
		return rangeAnswer{}, a.err
	}
	if a.status != 206 {
		return rangeAnswer{}, fmt.Errorf("%w: status %d for bytes=%d-%d", ErrNoRange, a.status, first, last)
	}
	cr, ok := httprange.Parse(hw.contentRange)
	if !ok || cr.First != first || cr.Last != last {
		return rangeAnswer{}, fmt.Errorf("%w: Content-Range %q for bytes=%d-%d", ErrNoRange, hw.contentRange, first, last)
	}
	if want := a.header + int(last-first+1); a.read != int64(want) {
		return rangeAnswer{}, fmt.Errorf("probe: range answer of %d bytes, want %d", a.read, want)
	}
	return rangeAnswer{a, cr.Complete}, nil
}

// rangeHeader keeps the Content-Range of a response header.
type rangeHeader struct{ contentRange string }

func (h *rangeHeader) header(b []byte) {
	for _, line := range strings.Split(string(b), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Range") {
			h.contentRange = strings.TrimSpace(v)
		}
	}
}
