package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/probe"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// getReport is what get prints, for people or as JSON.
type getReport struct {
	URL            string             `json:"url"`
	Output         string             `json:"output"`
	OK             bool               `json:"ok"`
	ExitStatus     int                `json:"exit_status"` // what get exits with: tlsapp help exit-codes
	Error          string             `json:"error,omitempty"`
	Cause          string             `json:"cause,omitempty"` // download.Cause of the error, or interrupted, max-time
	Bytes          int64              `json:"bytes"`
	Total          int64              `json:"total"` // -1: unknown
	ResumedFrom    int64              `json:"resumed_from"`
	Validator      string             `json:"validator,omitempty"`
	SHA256         string             `json:"sha256,omitempty"`
	SHA256Expected string             `json:"sha256_expected,omitempty"`
	SHA256OK       *bool              `json:"sha256_ok,omitempty"`
	Requests       int                `json:"requests"`
	Retries        int                `json:"retries"`
	Restarts       int                `json:"restarts"`
	Events         []getEvent         `json:"events"`
	Seconds        float64            `json:"seconds"`
	BytesPerSecond float64            `json:"bytes_per_second"`
	HeapInUse      uint64             `json:"heap_in_use_bytes"`
	HeapAllocated  uint64             `json:"heap_allocated_bytes"`
	Largest        largestReport      `json:"largest_record"`
	Connections    []recordReport     `json:"connections"`
	Partial        string             `json:"partial_file,omitempty"`
	RangeSizing    *probe.RangeResult `json:"range_sizing,omitempty"` // --range-chunk auto
	RangeChunk     int                `json:"range_chunk,omitempty"`  // the chunk the download ended with
	DeviceLimit    int                `json:"device_limit,omitempty"`
	Notes          []string           `json:"notes,omitempty"`

	e        *env
	w        io.Writer // where the report goes
	silent   bool      // -s: errors only
	resume   bool      // --resume was given
	status   string    // "done", "FAILED", "interrupted"
	start    time.Time
	before   runtime.MemStats
	mu       sync.Mutex // guards the progress line's state
	lastDraw time.Time
	drawn    bool
	base     int64     // bytes held at the first progress call
	baseTime time.Time // and when
}

// getEvent is a download.Event: a resumption, a reconnection and why, a
// restart and why.
type getEvent struct {
	Kind    string `json:"kind"`
	Offset  int64  `json:"offset"`
	Attempt int    `json:"attempt,omitempty"`
	WaitMS  int64  `json:"wait_ms,omitempty"`
	Reason  string `json:"reason"`
	Error   string `json:"error,omitempty"`
}

// largestReport is the largest record each way over every connection.
type largestReport struct {
	Sent     int `json:"sent"`
	Received int `json:"received"`
}

func newGetReport(e *env, url, dest string, want []byte) *getReport {
	r := &getReport{URL: url, Output: dest, Total: -1, Events: []getEvent{}, e: e, w: e.stdout}
	if dest == "" {
		r.Output, r.w = "stdout", e.stderr
	}
	if want != nil {
		r.SHA256Expected = hex.EncodeToString(want)
	}
	return r
}

// sizeChunks measures the Range chunk for --range-chunk auto, as a device
// that keeps its modem's TLS downloads (probe.MeasureRange): offering no
// record-size extension, on one kept-alive connection that fails on a
// record above the limit.
func (r *getReport) sizeChunks(ctx context.Context, rawURL string, deviceLimit int, cfg *tlsapp.Config, header http.Header, timeout time.Duration, sup *support) (int, error) {
	addr, host, path, err := probe.ParseTarget(rawURL)
	if err != nil {
		return 0, err
	}
	o := probe.Options{Addr: addr, Host: host, Path: path, Config: *cfg, DeviceLimit: deviceLimit, Timeout: timeout,
		ReadTime: timeout, DialTransport: sup.labelledDialer(), Header: header}
	res, err := probe.MeasureRange(ctx, o)
	r.RangeSizing = res
	if err != nil {
		return 0, fmt.Errorf("--range-chunk auto: %w", err)
	}
	if !r.e.json {
		seen := "all of it"
		if u := res.UnknownBeyond(); u >= 0 {
			seen = fmt.Sprintf("%d B of %d and the last chunk; unknown beyond %d B", res.Observed, res.Size, u)
		}
		fmt.Fprintf(r.e.stderr, "range chunk %d B: every record stays within %d B (%s, %s; response header up to %d B), measured on %d kept-alive connection(s) over %s\n",
			res.Chunk, res.Bound, res.Version, res.Suite, res.HeaderBytes, res.Connections, seen)
	}
	return res.Chunk, nil
}

func (r *getReport) begin() {
	runtime.GC()
	runtime.ReadMemStats(&r.before)
	r.start = time.Now()
}

// event records a download event and tells a person about reconnections and
// restarts as they happen.
func (r *getReport) event(ev download.Event) {
	ge := getEvent{Kind: string(ev.Kind), Offset: ev.Offset, Attempt: ev.Attempt, WaitMS: ev.Wait.Milliseconds(), Reason: ev.Reason}
	if ev.Err != nil {
		ge.Error = ev.Err.Error()
	}
	r.Events = append(r.Events, ge)
	if r.e.json {
		return
	}
	r.clearProgress()
	switch ev.Kind {
	case download.EventRetry:
		fmt.Fprintf(r.e.stderr, "tlsapp get: %v (%s); reconnecting in %v to continue at byte %d\n", ev.Err, ev.Reason, ev.Wait.Round(time.Millisecond), ev.Offset)
	case download.EventRestart:
		fmt.Fprintf(r.e.stderr, "tlsapp get: starting over from byte 0, dropping %d bytes: %s\n", ev.Offset, ev.Reason)
	case download.EventResume:
		fmt.Fprintf(r.e.stderr, "tlsapp get: resuming at byte %d (%s)\n", ev.Offset, ev.Reason)
	case download.EventRangeIgnored:
		fmt.Fprintf(r.e.stderr, "tlsapp get: %s; skipping the %d bytes already held\n", ev.Reason, ev.Offset)
	case download.EventShrink:
		fmt.Fprintf(r.e.stderr, "tlsapp get: %v; %s, going on at byte %d on a new connection\n", ev.Err, ev.Reason, ev.Offset)
	}
}

// progress draws one line on stderr, at most ten times a second, in the
// units of the summary: bytes held, the size, the rate of this run and the
// time left at that rate.
func (r *getReport) progress(done, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.baseTime.IsZero() {
		r.base, r.baseTime = done, now
	}
	if now.Sub(r.lastDraw) >= 100*time.Millisecond || done == total {
		r.lastDraw = now
		fmt.Fprintf(r.e.stderr, "\r\033[K%s", progressLine(done, total, done-r.base, now.Sub(r.baseTime)))
		r.drawn = true
	}
}

// progressLine is the progress line for done bytes of total (-1: unknown),
// of which moved arrived in elapsed.
func progressLine(done, total, moved int64, elapsed time.Duration) string {
	s := "  downloading  " + byteSize(done)
	if total >= 0 {
		s += fmt.Sprintf(" of %s (%d%%)", byteSize(total), done*100/max(total, 1))
	}
	s += ", " + rate(moved, elapsed)
	if total >= 0 && elapsed >= time.Second && moved > 0 {
		left := time.Duration(float64(total-done) / float64(moved) * float64(elapsed))
		s += ", " + clock(left) + " left"
	}
	return s
}

// clock formats a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	secs := int64(d.Round(time.Second) / time.Second)
	if secs >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	}
	return fmt.Sprintf("%d:%02d", secs/60, secs%60)
}

func (r *getReport) clearProgress() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drawn {
		fmt.Fprint(r.e.stderr, "\r\033[K")
		r.drawn = false
	}
}

// end fills the report from the download's result; ctx is the run's, to
// tell an interruption or --max-time from the download's own failures.
func (r *getReport) end(ctx context.Context, res *download.Result, err error) {
	r.clearProgress()
	elapsed := time.Since(r.start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	r.HeapAllocated, r.HeapInUse = after.TotalAlloc-r.before.TotalAlloc, after.HeapAlloc
	r.Seconds = elapsed.Seconds()
	r.Bytes, r.Total, r.ResumedFrom = res.Size, res.Total, res.ResumedFrom
	r.Validator, r.Requests, r.Retries, r.Restarts, r.Partial = res.Validator, res.Requests, res.Retries, res.Restarts, res.Partial
	r.RangeChunk = res.RangeChunk
	if elapsed > 0 {
		r.BytesPerSecond = float64(res.Size-res.ResumedFrom) / elapsed.Seconds()
	}
	r.Connections = []recordReport{}
	for _, s := range res.Connections {
		r.Connections = append(r.Connections, reportOf(s))
		r.Largest.Sent = max(r.Largest.Sent, s.LargestSent)
		r.Largest.Received = max(r.Largest.Received, s.LargestReceived)
	}
	// A record refused for its size is not in the stack's counts when the
	// record layer refused it before reading it (record_overflow).
	var roe *recordlimit.RecordOverflowError
	var dle *tlsapp.DeviceLimitError
	switch {
	case errors.As(err, &roe):
		r.Largest.Received = max(r.Largest.Received, roe.Len)
	case errors.As(err, &dle):
		r.Largest.Received = max(r.Largest.Received, dle.Len)
	}
	var de *download.DigestError
	switch {
	case err == nil:
		r.OK, r.status = true, "done"
		r.SHA256 = hex.EncodeToString(res.SHA256)
	case errors.As(err, &de):
		r.SHA256 = hex.EncodeToString(de.Got)
	}
	if r.SHA256Expected != "" && r.SHA256 != "" {
		ok := r.SHA256 == r.SHA256Expected
		r.SHA256OK = &ok
	}
	if err != nil {
		r.fail(ctx, err)
	}
}

// fail records the failure err of the run whose context is ctx, its exit
// status, and what was kept and what to do.
func (r *getReport) fail(ctx context.Context, err error) {
	r.status = "FAILED"
	r.Error, r.Cause = err.Error(), download.Cause(err)
	r.ExitStatus = downloadExit(err, r.Bytes-r.ResumedFrom)
	if r.ExitStatus == exitWrite {
		r.Cause = "write"
	}
	var se signalError
	var mt maxTimeError
	if ctx.Err() != nil {
		switch cause := context.Cause(ctx); {
		case errors.As(cause, &se):
			r.status, r.Error, r.Cause = "interrupted", "interrupted by "+signalName(se.sig), "interrupted"
			r.ExitStatus = exitSignal + int(se.sig)
		case errors.As(cause, &mt):
			r.Error, r.Cause, r.ExitStatus = mt.Error(), "max-time", exitTimeout
		}
	}
	r.Notes = append(r.Notes, r.advice(err)...)
}

// advice says what a failed run kept and what to do next.
func (r *getReport) advice(err error) []string {
	full := errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
	total := "of an unknown size"
	if r.Total >= 0 {
		total = "of " + byteSize(r.Total)
	}
	again := "run the same command with --resume (or -C -)"
	if r.resume {
		again = "run the same command again"
	}
	switch {
	case r.Output == "stdout" && full:
		need := "more room"
		if r.Total >= 0 {
			need = byteSize(r.Total-r.Bytes) + " more"
		}
		return []string{fmt.Sprintf("stdout is full after %s %s: where it goes needs %s; or save with -o FILE on a disk with room, which --resume can continue", byteSize(r.Bytes), total, need)}
	case r.Output == "stdout" && r.Bytes > r.ResumedFrom:
		return []string{fmt.Sprintf("%s %s went to stdout, which cannot be continued; save with -o FILE to download in a way --resume can continue", byteSize(r.Bytes), total)}
	case r.Partial == "":
		return nil
	}
	// What is kept is the part file as it is: a write cut short by a full
	// disk may have left more than the download counted, and --resume
	// continues from the file's end.
	held := r.Bytes
	if st, err := os.Stat(r.Partial); err == nil {
		held = st.Size()
	}
	kept := fmt.Sprintf("kept %s %s in %s", byteSize(held), total, r.Partial)
	if errors.Is(err, download.ErrChanged) {
		return []string{kept + ", of the version before the change", "run without --no-restart to download the new version from byte 0"}
	}
	if !full {
		return []string{kept, fmt.Sprintf("%s to continue from byte %d", again, held)}
	}
	dir := filepath.Dir(r.Partial)
	free := diskFree(dir)
	need := r.Total - held
	switch {
	case r.Total < 0:
		return []string{kept, fmt.Sprintf("the disk holding %s is full (%s free) and the size is unknown: free room there, then %s to continue from byte %d", dir, byteSize(max(free, 0)), again, held)}
	case free < 0:
		return []string{kept, fmt.Sprintf("the disk holding %s is full: free at least %s there, then %s to continue from byte %d", dir, byteSize(need), again, held)}
	case free >= need:
		return []string{kept, fmt.Sprintf("the disk holding %s was full; it has %s free now, enough for the %s to come: %s to continue from byte %d", dir, byteSize(free), byteSize(need), again, held)}
	}
	return []string{kept, fmt.Sprintf("the disk holding %s is full: %s more are needed and %s is free, so free at least %s there, then %s to continue from byte %d",
		dir, byteSize(need), byteSize(free), byteSize(need-free), again, held)}
}

// signalName names a signal as a person at a terminal knows it.
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// emit prints the report, and the error and the advice on stderr; a
// failure returns its exit status.
func (r *getReport) emit(err error) error {
	switch {
	case r.e.json:
		r.e.emitJSONTo(r.w, r)
	case !r.silent:
		printGet(r.w, r)
	}
	if err == nil {
		return nil
	}
	// The error and the advice end stderr, unless the report went there
	// already (the body went to stdout).
	if !r.e.json && (r.silent || r.w != r.e.stderr) {
		fmt.Fprintf(r.e.stderr, "tlsapp get: %s\n", r.Error)
		for _, n := range r.Notes {
			fmt.Fprintf(r.e.stderr, "  %s\n", n)
		}
	}
	return exitStatus(r.ExitStatus)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func printGet(w io.Writer, r *getReport) {
	fmt.Fprintf(w, "tlsapp get: %s\n\n", r.status)
	switch {
	case r.Cause == "interrupted" || r.Cause == "max-time":
		fmt.Fprintf(w, "  error        %s\n", r.Error)
	case r.Error != "":
		fmt.Fprintf(w, "  error        %s (%s)\n", r.Error, r.Cause)
	}
	fmt.Fprintf(w, "  url          %s\n", r.URL)
	total := "unknown size"
	if r.Total >= 0 {
		total = "of " + byteSize(r.Total)
	}
	fmt.Fprintf(w, "  output       %s: %s %s", r.Output, byteSize(r.Bytes), total)
	if r.ResumedFrom > 0 {
		fmt.Fprintf(w, " (resumed from %d)", r.ResumedFrom)
	}
	fmt.Fprintln(w)
	if r.Validator != "" {
		fmt.Fprintf(w, "  validator    %s\n", r.Validator)
	}
	if r.SHA256 != "" {
		check := ""
		if r.SHA256OK != nil {
			check = " matches --sha256"
			if !*r.SHA256OK {
				check = " MISMATCH, expected " + r.SHA256Expected
			}
		}
		fmt.Fprintf(w, "  sha256       %s%s\n", r.SHA256, check)
	}
	fmt.Fprintf(w, "  transfer     %s in %.2fs (%s), %d request(s), %d connection(s), %d retr%s, %d restart(s)\n",
		byteSize(r.Bytes-r.ResumedFrom), r.Seconds, rate(r.Bytes-r.ResumedFrom, time.Duration(r.Seconds*float64(time.Second))),
		r.Requests, len(r.Connections), r.Retries, map[bool]string{true: "y", false: "ies"}[r.Retries == 1], r.Restarts)
	for _, ev := range r.Events {
		if ev.Kind == string(download.EventRetry) || ev.Kind == string(download.EventRestart) || ev.Kind == string(download.EventShrink) {
			fmt.Fprintf(w, "  %-12s at byte %d: %s\n", ev.Kind, ev.Offset, ev.Reason)
		}
	}
	if r.RangeChunk > 0 {
		how := ""
		if rs := r.RangeSizing; rs != nil {
			how = fmt.Sprintf(" (measured %d", rs.Chunk)
			if r.RangeChunk != rs.Chunk {
				how += ", stepped down after records the device could not hold"
			}
			how += ")"
		}
		fmt.Fprintf(w, "  range chunk  %d B%s\n", r.RangeChunk, how)
	}
	if r.DeviceLimit > 0 {
		fmt.Fprintf(w, "  device       fails like a device that holds %d B of content per record (EMSGSIZE)\n", r.DeviceLimit)
	}
	if len(r.Connections) > 0 {
		c := r.Connections[0]
		fmt.Fprintf(w, "  tls          %s, %s\n", c.Version, c.CipherSuite)
		fmt.Fprintf(w, "  offered      %s\n", offerString(c.OfferedMaxFragmentLength, c.OfferedRecordSizeLimit))
		fmt.Fprintf(w, "  agreed       %s\n", agreedString(c))
		fmt.Fprintf(w, "  records      largest received %d B, largest sent %d B (over all connections)\n", r.Largest.Received, r.Largest.Sent)
		for i, c := range r.Connections {
			if len(r.Connections) > 1 || !r.OK {
				fmt.Fprintf(w, "  conn %-7d %s, %s; agreed %s; largest received %d B; %d B received\n", i+1, c.Version, c.CipherSuite, agreedString(c), c.LargestReceived, c.BytesReceived)
			}
		}
		fmt.Fprintf(w, "  handshake    %d B sent, %d B received (first connection)\n", c.HandshakeBytesSent, c.HandshakeBytesReceived)
		for _, a := range c.Anchors {
			fmt.Fprintf(w, "  verified by  %s\n", a)
		}
		if len(c.Anchors) == 0 {
			fmt.Fprintf(w, "  verified by  (no anchor reported)\n")
		}
	}
	fmt.Fprintf(w, "  heap         %s in use at the end, %s allocated during the download\n", byteSize(int64(r.HeapInUse)), byteSize(int64(r.HeapAllocated)))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note         %s\n", n)
	}
}
