package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

type getReport struct {
	URL            string         `json:"url"`
	Output         string         `json:"output"`
	OK             bool           `json:"ok"`
	Error          string         `json:"error,omitempty"`
	Bytes          int64          `json:"bytes"`
	Total          int64          `json:"total"` // -1: unknown
	ResumedFrom    int64          `json:"resumed_from"`
	SHA256         string         `json:"sha256,omitempty"`
	SHA256Expected string         `json:"sha256_expected,omitempty"`
	SHA256OK       *bool          `json:"sha256_ok,omitempty"`
	Requests       int            `json:"requests"`
	Retries        int            `json:"retries"`
	Seconds        float64        `json:"seconds"`
	BytesPerSecond float64        `json:"bytes_per_second"`
	HeapInUse      uint64         `json:"heap_in_use_bytes"`
	HeapAllocated  uint64         `json:"heap_allocated_bytes"`
	Largest        largestReport  `json:"largest_record"`
	Connections    []recordReport `json:"connections"`
	Partial        string         `json:"partial_file,omitempty"`
	Notes          []string       `json:"notes,omitempty"`
	start          time.Time
	states         []tlsapp.RecordState
}

// largestReport is the largest record each way over every connection.
type largestReport struct {
	Sent     int `json:"sent"`
	Received int `json:"received"`
}

func runGet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "get", "[flags] URL", `
Downloads URL over HTTPS with net/http, dialling every connection through the
tlsapp client: the record-size extensions given are offered, honoured and
enforced, and the server certificate is verified (system pool, --ca files or a
credential store).

With -o the body is written to FILE.part and renamed to FILE only when the
download is complete and, with --sha256, its digest matches; on a mismatch
FILE is left as it was and the command fails. Without -o the body goes to
stdout and the summary to stderr.

--range-chunk N fetches the body in HTTP Range requests of N bytes, the field
workaround for links that drop long transfers. --resume continues FILE.part
(or a partial FILE) and, when a connection drops, reconnects with backoff and
carries on from where it stopped, giving up after --retries attempts in a row
that make no progress.`)
	var cf clientFlags
	cf.register(fs, true)
	out := fs.String("o", "", "write the body to `FILE` (default: stdout)")
	chunk := fs.Int64("range-chunk", 0, "fetch the body in Range requests of `N` bytes (0: one request)")
	resume := fs.Bool("resume", false, "continue a partial -o file and reconnect after dropped connections")
	retries := fs.Int("retries", 5, "with --resume, give up after `N` attempts in a row that make no progress")
	backoff := fs.Duration("backoff", 500*time.Millisecond, "with --resume, the first wait before reconnecting (doubles up to 10s)")
	sum := fs.String("sha256", "", "expected SHA-256 of the body, in `hex`")
	idle := fs.Duration("idle-timeout", 30*time.Second, "give up on a connection that receives nothing for this long")
	progress := fs.Bool("progress", true, "show a progress bar (only on a terminal, never with --json)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("get takes one URL")
	}
	u, err := url.Parse(pos[0])
	if err != nil {
		return usagef("bad URL: %v", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return usagef("the URL must be https://HOST[:PORT]/PATH")
	}
	var want []byte
	if *sum != "" {
		if want, err = hex.DecodeString(strings.TrimPrefix(*sum, "sha256:")); err != nil || len(want) != sha256.Size {
			return usagef("--sha256 must be 64 hex digits")
		}
	}
	if *chunk < 0 {
		return usagef("--range-chunk must be positive")
	}
	toStdout := *out == "" || *out == "-"
	if *resume && toStdout {
		return usagef("--resume needs -o FILE")
	}
	cfg, err := cf.config(ctx)
	if err != nil {
		return err
	}

	report := e.stdout
	if toStdout {
		report = e.stderr
	}
	r := &getReport{URL: u.String(), Output: *out, Total: -1, start: time.Now()}
	if toStdout {
		r.Output = "stdout"
	}

	// Destination.
	var f *os.File
	var part string
	createdPart := false
	switch {
	case toStdout:
	default:
		part = *out + ".part"
		f, createdPart, r.ResumedFrom, err = openPart(*out, part, *resume)
		if err != nil {
			return err
		}
		defer func() {
			if f != nil {
				f.Close()
			}
		}()
	}

	d := &recordingDialer{cfg: cfg, timeout: cf.timeout, idle: *idle}
	tr := d.transport()
	defer tr.CloseIdleConnections()
	dl := &download{
		client: &http.Client{Transport: tr, CheckRedirect: httpsOnly},
		url:    u.String(),
		chunk:  *chunk,
		offset: r.ResumedFrom,
		total:  -1,
	}
	if toStdout {
		dl.w = e.stdout
	} else {
		dl.file = f
		dl.w = f
	}
	if *progress && !e.json && isTerminal(e.stderr) {
		dl.onTotal = func(total int64) {
			dl.bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription("downloading"),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish(),
			)
			dl.bar.Set64(dl.offset)
		}
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	wait := *backoff
	failures := 0
	var dlErr error
	for {
		mark := dl.offset
		dlErr = dl.run(ctx)
		if dlErr == nil {
			break
		}
		if dl.offset > mark {
			failures = 0
			wait = *backoff
		}
		failures++
		if !*resume || !retriable(ctx, dlErr) || failures > *retries {
			break
		}
		r.Retries++
		if !e.json {
			if dl.bar != nil {
				dl.bar.Clear()
			}
			fmt.Fprintf(e.stderr, "tlsapp get: %v; reconnecting in %v to continue at byte %d\n", dlErr, wait, dl.offset)
		}
		tr.CloseIdleConnections()
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(2*wait, 10*time.Second)
	}
	if dl.bar != nil {
		dl.bar.Finish()
	}
	elapsed := time.Since(r.start)
	runtime.ReadMemStats(&after)
	r.HeapAllocated = after.TotalAlloc - before.TotalAlloc
	r.HeapInUse = after.HeapAlloc
	r.Seconds = elapsed.Seconds()
	r.Bytes = dl.offset
	r.Total = dl.total
	r.Requests = dl.requests
	if elapsed > 0 {
		r.BytesPerSecond = float64(dl.offset-r.ResumedFrom) / elapsed.Seconds()
	}
	r.states = d.states()
	for _, s := range r.states {
		r.Connections = append(r.Connections, reportOf(s))
		r.Largest.Sent = max(r.Largest.Sent, s.LargestSent)
		r.Largest.Received = max(r.Largest.Received, s.LargestReceived)
	}
	r.Notes = append(r.Notes, dl.notes...)

	fail := func(err error) error {
		r.Error = err.Error()
		if e.json {
			e.emitJSONTo(report, r)
		} else {
			printGet(report, r)
			fmt.Fprintf(e.stderr, "tlsapp get: %v\n", err)
		}
		return errReported
	}
	if dlErr != nil {
		if f != nil {
			f.Close()
			f = nil
			if dl.offset > 0 {
				r.Partial = part
				if !*resume {
					r.Notes = append(r.Notes, "run again with --resume to continue")
				}
			} else if createdPart {
				os.Remove(part)
			}
		}
		return fail(dlErr)
	}

	// Digest: of the whole file, which may hold bytes from an earlier run.
	if f != nil {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		h := sha256.New()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fail(err)
		}
		if _, err := io.Copy(h, f); err != nil {
			return fail(err)
		}
		r.SHA256 = hex.EncodeToString(h.Sum(nil))
		f.Close()
		f = nil
	} else {
		r.SHA256 = hex.EncodeToString(dl.hash.Sum(nil))
	}
	if want != nil {
		ok := r.SHA256 == hex.EncodeToString(want)
		r.SHA256OK = &ok
		r.SHA256Expected = hex.EncodeToString(want)
		if !ok {
			if part != "" {
				if createdPart {
					os.Remove(part)
					r.Notes = append(r.Notes, fmt.Sprintf("removed %s, which this run had created; %s was not touched", part, *out))
				} else {
					r.Partial = part
					r.Notes = append(r.Notes, fmt.Sprintf("%s was there before this run and is kept; %s was not touched", part, *out))
				}
			}
			return fail(fmt.Errorf("SHA-256 mismatch: got %s, want %s", r.SHA256, r.SHA256Expected))
		}
	}
	if part != "" {
		if err := os.Rename(part, *out); err != nil {
			return fail(err)
		}
	}
	r.OK = true
	if e.json {
		return e.emitJSONTo(report, r)
	}
	printGet(report, r)
	return nil
}

// openPart opens the partial file for a download to out. With resume it
// continues part, or else a copy of out; without it starts part afresh.
func openPart(out, part string, resume bool) (f *os.File, created bool, offset int64, err error) {
	if resume {
		if f, err = os.OpenFile(part, os.O_RDWR, 0); err == nil {
			offset, err = f.Seek(0, io.SeekEnd)
			return f, false, offset, err
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, false, 0, err
		}
		if src, err := os.Open(out); err == nil {
			defer src.Close()
			if f, err = os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
				return nil, false, 0, err
			}
			if offset, err = io.Copy(f, src); err != nil {
				f.Close()
				os.Remove(part)
				return nil, false, 0, err
			}
			return f, true, offset, nil
		}
	}
	_, statErr := os.Stat(part)
	f, err = os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	return f, statErr != nil, 0, err
}

// download fetches a URL from offset on, in one request or in Range requests
// of chunk bytes.
type download struct {
	client  *http.Client
	url     string
	chunk   int64
	w       io.Writer
	file    *os.File  // when w is a file, to start over if the server ignores Range
	offset  int64     // bytes written to w
	total   int64     // -1: not known yet
	hash    hash.Hash // of the body, when it goes to stdout
	bar     *progressbar.ProgressBar
	onTotal func(int64)

	requests int
	notes    []string
}

// statusError is an HTTP answer the download cannot use.
type statusError struct {
	status string
	code   int
}

func (e *statusError) Error() string { return "server answered " + e.status }

// run fetches the rest of the body. It returns nil when the body is complete.
func (dl *download) run(ctx context.Context) error {
	if dl.hash == nil && dl.file == nil {
		dl.hash = sha256.New()
	}
	for {
		done, err := dl.request(ctx)
		if err != nil || done {
			return err
		}
	}
}

// request makes one request from dl.offset and reports whether the body is
// complete.
func (dl *download) request(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", dl.url, nil)
	if err != nil {
		return false, err
	}
	ranged := dl.chunk > 0 || dl.offset > 0
	var want int64 = -1 // bytes this request should bring
	if ranged {
		end := ""
		if dl.chunk > 0 {
			last := dl.offset + dl.chunk - 1
			if dl.total >= 0 {
				last = min(last, dl.total-1)
			}
			end = strconv.FormatInt(last, 10)
			want = last - dl.offset + 1
		}
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%s", dl.offset, end))
	}
	dl.requests++
	resp, err := dl.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if dl.offset > 0 {
			// The server ignores Range: start over.
			if dl.file == nil {
				return false, errors.New("the server ignores Range requests and part of the body was already written")
			}
			if err := dl.file.Truncate(0); err != nil {
				return false, err
			}
			if _, err := dl.file.Seek(0, io.SeekStart); err != nil {
				return false, err
			}
			dl.notes = append(dl.notes, "the server ignored a Range request: downloaded again from the start")
			dl.offset = 0
		} else if dl.chunk > 0 {
			dl.notes = append(dl.notes, "the server ignored the Range request and sent the whole body at once")
		}
		dl.setTotal(resp.ContentLength)
		n, err := dl.copy(resp.Body)
		if err != nil {
			return false, err
		}
		if dl.total >= 0 && n < dl.total {
			return false, io.ErrUnexpectedEOF
		}
		dl.total = dl.offset
		return true, nil
	case http.StatusPartialContent:
		start, last, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return false, err
		}
		if start != dl.offset {
			return false, fmt.Errorf("asked for bytes from %d, the server sent from %d", dl.offset, start)
		}
		dl.setTotal(total)
		if want < 0 || last-start+1 < want {
			want = last - start + 1
		}
		n, err := dl.copy(io.LimitReader(resp.Body, want))
		if err != nil {
			return false, err
		}
		if n < want {
			return false, io.ErrUnexpectedEOF
		}
		return dl.total >= 0 && dl.offset >= dl.total, nil
	case http.StatusRequestedRangeNotSatisfiable:
		// bytes */TOTAL: complete if we already hold TOTAL bytes.
		cr := resp.Header.Get("Content-Range")
		if t, ok := strings.CutPrefix(cr, "bytes */"); ok {
			if total, err := strconv.ParseInt(t, 10, 64); err == nil && total == dl.offset {
				dl.setTotal(total)
				return true, nil
			}
		}
		return false, fmt.Errorf("the server cannot serve bytes from %d (%s)", dl.offset, cr)
	}
	return false, &statusError{status: resp.Status, code: resp.StatusCode}
}

func (dl *download) setTotal(total int64) {
	if total < 0 || dl.total >= 0 {
		return
	}
	dl.total = total
	if dl.onTotal != nil {
		dl.onTotal(total)
	}
}

// copy copies body to the destination, advancing offset as bytes land.
func (dl *download) copy(body io.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		m, err := body.Read(buf)
		if m > 0 {
			if _, werr := dl.w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			if dl.hash != nil {
				dl.hash.Write(buf[:m])
			}
			if dl.bar != nil {
				dl.bar.Add(m)
			}
			n += int64(m)
			dl.offset += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// parseContentRange parses "bytes START-LAST/TOTAL" (TOTAL may be "*": -1).
func parseContentRange(s string) (start, last, total int64, err error) {
	bad := fmt.Errorf("bad Content-Range %q", s)
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	if start, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, 0, bad
	}
	if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < start {
		return 0, 0, 0, bad
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, 0, bad
		}
	}
	return start, last, total, nil
}

// retriable reports whether a failed attempt is worth another connection: a
// dropped or stalled connection or a server error is, a certificate the
// client does not trust or a server breaking the record-size rules is not.
func retriable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusRequestTimeout || se.code == http.StatusTooManyRequests
	}
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci),
		errors.Is(err, tlsapp.ErrConfig),
		errors.Is(err, recordlimit.ErrNegotiation),
		errors.Is(err, recordlimit.ErrRecordOverflow),
		strings.Contains(err.Error(), "trust anchor"),
		strings.Contains(err.Error(), "certificate"):
		return false
	}
	return true
}

// httpsOnly follows up to 10 redirects, all to https URLs.
func httpsOnly(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "https" {
		return fmt.Errorf("refusing a redirect to %s: only https", req.URL)
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func printGet(w io.Writer, r *getReport) {
	status := "done"
	if !r.OK {
		status = "FAILED"
	}
	fmt.Fprintf(w, "tlsapp get: %s\n\n", status)
	fmt.Fprintf(w, "  url          %s\n", r.URL)
	total := "unknown size"
	if r.Total >= 0 {
		total = fmt.Sprintf("of %d", r.Total)
	}
	fmt.Fprintf(w, "  output       %s: %d B %s", r.Output, r.Bytes, total)
	if r.ResumedFrom > 0 {
		fmt.Fprintf(w, " (resumed from %d)", r.ResumedFrom)
	}
	fmt.Fprintln(w)
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
	fmt.Fprintf(w, "  transfer     %s in %.2fs (%s), %d request(s), %d connection(s), %d retr%s\n",
		byteSize(r.Bytes-r.ResumedFrom), r.Seconds, rate(r.Bytes-r.ResumedFrom, time.Duration(r.Seconds*float64(time.Second))),
		r.Requests, len(r.Connections), r.Retries, map[bool]string{true: "y", false: "ies"}[r.Retries == 1])
	if len(r.Connections) > 0 {
		c := r.Connections[0]
		fmt.Fprintf(w, "  tls          %s, %s\n", c.Version, c.CipherSuite)
		fmt.Fprintf(w, "  offered      %s\n", offerString(c.OfferedMaxFragmentLength, c.OfferedRecordSizeLimit))
		fmt.Fprintf(w, "  agreed       %s\n", agreedString(c))
		fmt.Fprintf(w, "  records      largest received %d B, largest sent %d B (over all connections)\n", r.Largest.Received, r.Largest.Sent)
		fmt.Fprintf(w, "  handshake    %d B sent, %d B received (first connection)\n", c.HandshakeBytesSent, c.HandshakeBytesReceived)
		for _, a := range c.Anchors {
			fmt.Fprintf(w, "  verified by  %s\n", a)
		}
		if len(c.Anchors) == 0 {
			fmt.Fprintf(w, "  verified by  (no anchor reported)\n")
		}
	}
	fmt.Fprintf(w, "  heap         %s in use at the end, %s allocated during the download\n", byteSize(int64(r.HeapInUse)), byteSize(int64(r.HeapAllocated)))
	if r.Partial != "" {
		fmt.Fprintf(w, "  partial      %s kept\n", r.Partial)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note         %s\n", n)
	}
}
