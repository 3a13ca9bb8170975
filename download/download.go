package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// Options configures a download. The zero value fetches in one request
// through a tlsapp client with default settings, retrying up to 5 times.
type Options struct {
	// Client makes the requests; any TLS stack will do. When nil, a client
	// over tlsapp.NewTransport(Dialer) is used (redirects to https only),
	// and the Result reports its connections' RecordStates.
	Client *http.Client
	// Dialer dials the connections when Client is nil; nil means a zero
	// tlsapp.Dialer (the system roots).
	Dialer *tlsapp.Dialer
	// Header holds header fields added to every request (a bearer token,
	// a device ID). It may not hold a field the download sets itself (see
	// CheckHeader). Requests carry User-Agent "tlsapp/VERSION" (the
	// version of this module) unless Header gives one; an empty one sends
	// none.
	Header http.Header

	// Resume continues the partial file an earlier process left (File
	// only), if its sidecar matches the URL; otherwise it starts over.
	Resume bool
	// ResumeKey, when set, names the resource for Resume in place of its
	// URL: a partial file is continued only if it was saved under the same
	// key, whatever its URL. When empty, a partial file is continued if it
	// was saved from a URL with the same scheme, host and path; the query
	// may differ, as it does between two pre-signed URLs of one object. In
	// either case the partial file must have a strong validator unless its
	// URL is the same, and the first request asks for the rest with
	// If-Range holding it, so that only the same representation of the
	// same size is continued: anything else starts over. (A server that
	// picks the object by the query and gives two objects the same
	// validator and size would splice them: give such a server's objects
	// a ResumeKey, or Options.SHA256.) It is at most 1 KiB.
	ResumeKey string
	// RangeChunk, when positive, fetches the body in Range requests of at
	// most this many bytes.
	RangeChunk int
	// RangeShrink makes a ranged download whose request fails on a record
	// longer than the device holds (errors.Is syscall.EMSGSIZE, as
	// tlsapp.Config.DeviceLimit reports it) go on at once from the same
	// offset, on a new connection, with a smaller chunk, as Nordic's
	// download client does: 128 bytes smaller, 8 below 256, giving up
	// below 8. Result.RangeChunk is the chunk it ended with.
	RangeShrink bool
	// Size, when positive, is the size the resource must have: a body
	// that goes past it is stopped at the first read beyond it, with a
	// *SizeError.
	Size int64
	// SHA256, when not nil, is the digest the body must have.
	SHA256 []byte
	// NoRestart makes a resource that changed during the download fail
	// with a *ChangedError instead of starting again from byte 0.
	NoRestart bool

	// Retries is how many failed attempts in a row that make no progress
	// are retried (0: 5; negative: none).
	Retries int
	// Backoff is the wait before the first retry (0: 500ms), doubling with
	// each failure in a row up to MaxBackoff (0: 10s); each wait is drawn
	// between half and all of that.
	Backoff, MaxBackoff time.Duration
	// IdleTimeout ends an attempt that receives nothing for this long,
	// waiting for the response headers included (0: 30s).
	IdleTimeout time.Duration
	// BufferSize is the size of the one buffer the download reads into
	// (0: 32 KiB).
	BufferSize int

	// Progress, when set, is called after every write with the bytes held
	// and the size (-1 while unknown).
	Progress func(done, total int64)
	// Event, when set, is called when the download resumes, retries,
	// restarts or finds its Range ignored, with the reason.
	Event func(Event)
}

// EventKind says what an Event reports.
type EventKind string

// The kinds of Event.
const (
	// EventResume: a partial file of Offset bytes is continued (Reason:
	// its validator).
	EventResume EventKind = "resume"
	// EventRetry: an attempt failed with Err (Reason: Cause(Err)); the
	// next starts after Wait, at Offset.
	EventRetry EventKind = "retry"
	// EventRestart: the Offset bytes held are dropped and the download
	// starts from byte 0 (Reason: what showed a change, or why the bytes
	// could not be kept).
	EventRestart EventKind = "restart"
	// EventRangeIgnored: the server answered a Range request with the
	// whole, unchanged body; its first Offset bytes were skipped.
	EventRangeIgnored EventKind = "range-ignored"
	// EventShrink: a request failed with Err on a record the device cannot
	// hold; the next starts at once at Offset with the chunk of Reason
	// (Options.RangeShrink).
	EventShrink EventKind = "shrink"
)

// Event is something that happened during a download.
type Event struct {
	Kind    EventKind
	Offset  int64         // bytes held when it happened
	Attempt int           // EventRetry: failures in a row so far
	Wait    time.Duration // EventRetry: the wait before the next attempt
	Err     error         // EventRetry: the failure
	Reason  string
}

// Result describes a download, complete or not.
type Result struct {
	Size        int64  // bytes held at the end (the whole body on success)
	Total       int64  // size of the resource, -1 if never learned
	ResumedFrom int64  // bytes of an earlier process continued
	SHA256      []byte // of the body, on success
	Validator   string // the strong validator followed, if any
	Requests    int
	Retries     int
	Restarts    int
	// RangeChunk is the Range chunk the download ended with (smaller than
	// Options.RangeChunk after Options.RangeShrink stepped it down).
	RangeChunk int
	// Partial is the partial file kept for a later Resume, after a
	// failure that left bytes worth continuing.
	Partial string
	// Connections are the RecordStates of the tlsapp connections that
	// carried requests, in the order first used, those that failed after
	// their handshake included.
	Connections []tlsapp.RecordState
}

const maxRestarts = 3

// File downloads rawURL to path. The body goes to path+".part", with a
// sidecar path+".part.meta"; path appears, by rename, only once the body
// is complete and checked. Something at path+".part" that is not a regular
// file of the process's own with one link is refused with an error wrapping
// ErrPartFile. A Result is returned in every case.
func File(ctx context.Context, rawURL, path string, opt Options) (*Result, error) {
	j, err := newJob(rawURL, opt)
	if err != nil {
		return j.res, err
	}
	part, meta := path+".part", path+".part.meta"
	f, err := openPart(part)
	if err != nil {
		return j.res, err
	}
	fs := &fileSink{f: f}
	j.out = fs
	j.saveMeta = func() error {
		return writeSidecar(meta, &sidecar{URL: j.url, Key: j.opt.ResumeKey, ETag: j.val.ETag, LastModified: j.val.LastModified, Size: j.size})
	}
	if err := j.open(f, meta); err != nil {
		f.Close()
		return j.res, err
	}
	err = j.run(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = finish(f, part, path)
		if err == nil {
			os.Remove(meta)
			syncDir(filepath.Dir(path))
			return j.result(), nil
		}
	}
	f.Close()
	var de *DigestError
	var se *SizeError
	if j.offset == 0 || errors.As(err, &de) || errors.As(err, &se) {
		// Nothing worth continuing, or bytes known to be wrong.
		os.Remove(part)
		os.Remove(meta)
	} else {
		j.res.Partial = part
	}
	return j.result(), err
}

// Stream downloads rawURL to w. A retry continues where w stopped, with
// If-Range; a resource that changes once bytes were written fails with a
// *ChangedError, since w cannot be rewound. The digest and size are checked
// once the body has been written.
func Stream(ctx context.Context, rawURL string, w io.Writer, opt Options) (*Result, error) {
	j, err := newJob(rawURL, opt)
	if err != nil {
		return j.res, err
	}
	j.out = &writerSink{w: w, job: j}
	if err := j.run(ctx); err != nil {
		return j.result(), err
	}
	return j.result(), nil
}

// job is one download in progress.
type job struct {
	opt      Options
	client   *http.Client
	closer   func()
	url      string
	out      sink
	saveMeta func() error // nil for a stream
	buf      []byte
	hash     hash.Hash
	offset   int64 // bytes held, hashed in order
	size     int64 // -1: unknown
	val      validator
	res      *Result
	conns    []*tlsapp.Conn

	devMu  sync.Mutex
	devErr error     // a record the device could not hold, on any connection, since the exchange began
	cur    *exchange // the exchange in progress
}

func newJob(rawURL string, opt Options) (*job, error) {
	j := &job{opt: opt, url: rawURL, size: -1, res: &Result{Total: -1, RangeChunk: opt.RangeChunk}, hash: sha256.New()}
	u, err := url.Parse(rawURL)
	if err != nil {
		return j, err
	}
	if u.Scheme != "https" || u.Host == "" {
		return j, fmt.Errorf("download: %q is not an https URL", rawURL)
	}
	if opt.SHA256 != nil && len(opt.SHA256) != sha256.Size {
		return j, fmt.Errorf("download: Options.SHA256 is %d bytes, not %d", len(opt.SHA256), sha256.Size)
	}
	if opt.RangeChunk < 0 || opt.Size < 0 {
		return j, errors.New("download: negative RangeChunk or Size")
	}
	if err := CheckHeader(opt.Header); err != nil {
		return j, err
	}
	if len(opt.ResumeKey) > maxResumeKey {
		return j, fmt.Errorf("download: Options.ResumeKey is %d bytes, more than %d", len(opt.ResumeKey), maxResumeKey)
	}
	if j.opt.Retries == 0 {
		j.opt.Retries = 5
	}
	if j.opt.Backoff <= 0 {
		j.opt.Backoff = 500 * time.Millisecond
	}
	if j.opt.MaxBackoff <= 0 {
		j.opt.MaxBackoff = 10 * time.Second
	}
	if j.opt.IdleTimeout <= 0 {
		j.opt.IdleTimeout = 30 * time.Second
	}
	if j.opt.BufferSize <= 0 {
		j.opt.BufferSize = 32 << 10
	}
	j.buf = make([]byte, j.opt.BufferSize)
	j.client = opt.Client
	if j.client == nil {
		d := opt.Dialer
		if d == nil {
			d = &tlsapp.Dialer{}
		}
		tr := tlsapp.NewTransport(d, nil)
		dial := tr.DialTLSContext
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &watchedConn{Conn: c.(*tlsapp.Conn), job: j}, nil
		}
		j.client = &http.Client{Transport: tr, CheckRedirect: httpsOnly}
		j.closer = tr.CloseIdleConnections
	}
	return j, nil
}

// watchedConn tells the job when a read fails on a record the device
// cannot hold (EMSGSIZE), and ends the exchange at once. net/http would
// hide it: a GET whose reused connection fails before the answer's first
// byte is sent again on a new connection, whose first records are smaller;
// a device has no such second chance.
type watchedConn struct {
	*tlsapp.Conn
	job *job
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, syscall.EMSGSIZE) {
		c.job.devMu.Lock()
		if c.job.devErr == nil {
			c.job.devErr = err
			if x := c.job.cur; x != nil {
				x.cancel(err) // no second connection for this request
			}
		}
		c.job.devMu.Unlock()
	}
	return n, err
}

// deviceErr returns, and forgets, the device failure seen since the last
// call.
func (j *job) deviceErr() error {
	j.devMu.Lock()
	defer j.devMu.Unlock()
	err := j.devErr
	j.devErr = nil
	return err
}

// sameResource reports whether two URLs differ at most in their query
// (and fragment): the same scheme, user, host (with the default port or
// without) and path.
func sameResource(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	host := func(u *url.URL) string {
		h := strings.ToLower(u.Host)
		if strings.EqualFold(u.Scheme, "https") {
			h = strings.TrimSuffix(h, ":443")
		}
		return h
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && ua.User.String() == ub.User.String() &&
		host(ua) == host(ub) && ua.EscapedPath() == ub.EscapedPath() && ua.Opaque == ub.Opaque
}

// httpsOnly follows up to 10 redirects, all to https URLs.
func httpsOnly(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "https" {
		return fmt.Errorf("download: refusing a redirect to %s: only https", req.URL)
	}
	if len(via) > 10 {
		return errors.New("download: stopped after 10 redirects")
	}
	return nil
}

// open decides where the partial file f starts: at its end when Resume
// and its sidecar allow, else empty.
func (j *job) open(f *os.File, meta string) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	held := st.Size()
	reason := ""
	if j.opt.Resume && held > 0 {
		sc, err := readSidecar(meta)
		switch {
		case err != nil:
			reason = err.Error()
		case sc == nil:
			reason = "the partial file has no sidecar saying what it holds"
		case j.opt.ResumeKey != "" && sc.Key != j.opt.ResumeKey:
			reason = fmt.Sprintf("the partial file was saved under the resume key %q, not %q", sc.Key, j.opt.ResumeKey)
		case j.opt.ResumeKey == "" && sc.URL != j.url && !sameResource(sc.URL, j.url):
			reason = "the partial file is of " + sc.URL
		case j.opt.Size > 0 && sc.Size >= 0 && sc.Size != j.opt.Size:
			reason = fmt.Sprintf("the partial file's resource is %d bytes, not the %d of Options.Size", sc.Size, j.opt.Size)
		case sc.Size >= 0 && held > sc.Size:
			reason = fmt.Sprintf("the partial file is longer than the %d bytes of its resource", sc.Size)
		case sc.ETag == "" && sc.LastModified == "" && (j.opt.SHA256 == nil || sc.URL != j.url):
			reason = "the partial file's resource had no strong validator to continue with"
		default:
			j.val, j.size = validator{ETag: sc.ETag, LastModified: sc.LastModified}, sc.Size
			if err := j.hashHeld(f, held); err != nil {
				return err
			}
			j.offset, j.res.ResumedFrom = held, held
			why := j.val.String()
			switch {
			case j.val.none():
				why += "; the SHA-256 will catch a splice"
			case sc.URL != j.url:
				why += "; saved from " + sc.URL + ", continued if If-Range shows the same representation"
			}
			j.event(Event{Kind: EventResume, Offset: held, Reason: why})
			return nil
		}
	}
	if held > 0 {
		if reason == "" {
			reason = "not resuming"
		}
		j.event(Event{Kind: EventRestart, Offset: held, Reason: reason})
	}
	return j.out.Reset()
}

// hashHeld hashes the first n bytes of f and leaves f at n.
func (j *job) hashHeld(f *os.File, n int64) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := io.LimitReader(f, n)
	for {
		m, err := r.Read(j.buf)
		j.hash.Write(j.buf[:m])
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	_, err := f.Seek(n, io.SeekStart)
	return err
}

// run makes attempts until the body is complete and checked, or a failure
// is not worth retrying.
func (j *job) run(ctx context.Context) error {
	if j.closer != nil {
		defer j.closer()
	}
	failures := 0
	for {
		mark := j.offset
		err := j.attempt(ctx)
		if err == nil {
			return j.check()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if j.shrink(err) {
			continue
		}
		if j.offset > mark {
			failures = 0
		}
		failures++
		if !Retriable(err) || j.opt.Retries < 0 || failures > j.opt.Retries {
			return err
		}
		wait := j.backoff(failures)
		j.res.Retries++
		j.event(Event{Kind: EventRetry, Offset: j.offset, Attempt: failures, Wait: wait, Err: err, Reason: Cause(err)})
		j.client.CloseIdleConnections()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// shrink steps the Range chunk down after err, a record the device could
// not hold (Options.RangeShrink), and reports whether to go on.
func (j *job) shrink(err error) bool {
	c := j.res.RangeChunk
	if !j.opt.RangeShrink || c <= 0 || !errors.Is(err, syscall.EMSGSIZE) {
		return false
	}
	step := 128
	if c <= 256 {
		step = 8
	}
	if c-step < 8 {
		return false
	}
	j.res.RangeChunk = c - step
	j.client.CloseIdleConnections()
	j.event(Event{Kind: EventShrink, Offset: j.offset, Err: err,
		Reason: fmt.Sprintf("Range chunk %d -> %d after a record the device cannot hold", c, c-step)})
	return true
}

// backoff is the wait before retry number n: Backoff doubled n-1 times,
// at most MaxBackoff, drawn between half and all of it.
func (j *job) backoff(n int) time.Duration {
	d := j.opt.Backoff
	for i := 1; i < n && d < j.opt.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, j.opt.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// check checks the complete body against Options.Size and SHA256.
func (j *job) check() error {
	if j.opt.Size > 0 && j.offset != j.opt.Size {
		return &SizeError{Got: j.offset, Want: j.opt.Size}
	}
	sum := j.hash.Sum(nil)
	if j.opt.SHA256 != nil && !bytes.Equal(sum, j.opt.SHA256) {
		return &DigestError{Got: sum, Want: j.opt.SHA256}
	}
	j.res.SHA256 = sum
	return nil
}

func (j *job) result() *Result {
	j.res.Size, j.res.Total = j.offset, j.size
	if !j.val.none() {
		j.res.Validator = j.val.String()
	}
	j.res.Connections = j.res.Connections[:0]
	for _, c := range j.conns {
		j.res.Connections = append(j.res.Connections, c.RecordState())
	}
	return j.res
}

func (j *job) event(e Event) {
	if j.opt.Event != nil {
		j.opt.Event(e)
	}
}

// attempt makes requests until the body is complete or one fails.
func (j *job) attempt(ctx context.Context) error {
	for {
		done, err := j.request(ctx)
		if err != nil || done {
			return err
		}
	}
}

// exchange is one request: its context, which the idle timer cancels, and
// the connections that carried it (net/http may try a second one).
type exchange struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   *time.Timer
	conn   net.Conn // the last
	tried  []net.Conn
}

func (j *job) newExchange(ctx context.Context) *exchange {
	x := &exchange{}
	x.ctx, x.cancel = context.WithCancelCause(ctx)
	x.idle = time.AfterFunc(j.opt.IdleTimeout, func() { x.cancel(ErrIdleTimeout) })
	x.ctx = httptrace.WithClientTrace(x.ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		x.conn = i.Conn
		x.tried = append(x.tried, i.Conn)
	}})
	j.devMu.Lock()
	j.devErr, j.cur = nil, x // what an earlier exchange left goes
	j.devMu.Unlock()
	return x
}

func (j *job) endExchange(x *exchange) {
	x.idle.Stop()
	x.cancel(nil)
	j.devMu.Lock()
	if j.cur == x {
		j.cur = nil
	}
	j.devMu.Unlock()
}

// err turns a failure caused by the idle timer into ErrIdleTimeout (and
// not a cancellation, which is not retried).
func (x *exchange) err(err error, idle time.Duration) error {
	if err != nil && errors.Is(context.Cause(x.ctx), ErrIdleTimeout) {
		return fmt.Errorf("%w (%v)", ErrIdleTimeout, idle)
	}
	return err
}

func (j *job) newRequest(x *exchange, method string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(x.ctx, method, j.url, nil)
	if err != nil {
		return nil, err
	}
	for name, vals := range j.opt.Header {
		for _, v := range vals {
			req.Header.Add(name, v)
		}
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", userAgent)
	}
	req.Header.Set("Accept-Encoding", "identity")
	return req, nil
}

// request makes one request from the current offset and reports whether the
// body is complete.
func (j *job) request(ctx context.Context) (bool, error) {
	if j.offset > 0 && j.val.none() && j.opt.SHA256 == nil {
		if j.opt.RangeChunk > 0 {
			return false, ErrNoValidator
		}
		return false, j.restart("no strong validator to continue with")
	}
	x := j.newExchange(ctx)
	defer j.endExchange(x)
	if j.size >= 0 && j.offset >= j.size {
		done, err := j.confirm(x)
		return done, x.err(err, j.opt.IdleTimeout)
	}
	req, err := j.newRequest(x, http.MethodGet)
	if err != nil {
		return false, err
	}
	askedLast := int64(-1)
	ifRange := false
	if j.offset > 0 || j.res.RangeChunk > 0 {
		end := ""
		if c := j.res.RangeChunk; c > 0 {
			askedLast = j.offset + int64(c) - 1
			if j.size >= 0 {
				askedLast = min(askedLast, j.size-1)
			}
			end = strconv.FormatInt(askedLast, 10)
		}
		req.Header.Set("Range", "bytes="+strconv.FormatInt(j.offset, 10)+"-"+end)
		if !j.val.none() {
			req.Header.Set("If-Range", j.val.ifRange())
			ifRange = true
		}
	}
	j.res.Requests++
	resp, err := j.client.Do(req)
	// The connections, once they carried the request, are reported even
	// when the answer failed: what their record layer saw says why.
	for _, c := range x.tried {
		j.noteConn(c)
	}
	if derr := j.deviceErr(); derr != nil {
		// The device's connection failed, whatever net/http did next.
		if err == nil {
			resp.Body.Close()
		}
		return false, derr
	}
	if err != nil {
		return false, x.err(err, j.opt.IdleTimeout)
	}
	defer resp.Body.Close()
	var done bool
	switch resp.StatusCode {
	case http.StatusOK:
		done, err = j.whole(x, resp)
	case http.StatusPartialContent:
		done, err = j.partial(x, resp, askedLast, ifRange)
	case http.StatusRequestedRangeNotSatisfiable:
		done, err = j.unsatisfiable(x, resp)
	default:
		err = &StatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	return done, x.err(err, j.opt.IdleTimeout)
}

func (j *job) noteConn(c net.Conn) {
	if w, ok := c.(*watchedConn); ok {
		c = w.Conn
	}
	tc, ok := c.(*tlsapp.Conn)
	if !ok {
		return
	}
	for _, seen := range j.conns {
		if seen == tc {
			return
		}
	}
	j.conns = append(j.conns, tc)
}

// learn records the representation the body being written at byte 0 is of.
func (j *job) learn(v validator, size int64) error {
	j.val, j.size = v, size
	if j.saveMeta != nil {
		return j.saveMeta()
	}
	return nil
}

// whole handles a 200: the whole body, from byte 0. When it answers a
// Range request under the validator the bytes held are of, those bytes are
// skipped; the validator binds the size, so a body that ends elsewhere, or
// before the bytes held, shows a change.
func (j *job) whole(x *exchange, resp *http.Response) (bool, error) {
	v := validatorOf(resp.Header)
	cl := resp.ContentLength
	if j.opt.Size > 0 && cl >= 0 && cl != j.opt.Size {
		return false, &SizeError{Got: cl, Want: j.opt.Size}
	}
	var skip int64
	if j.offset > 0 {
		switch {
		case !j.val.none() && v == j.val && (j.size < 0 || cl < 0 || cl == j.size):
			skip = j.offset
			j.event(Event{Kind: EventRangeIgnored, Offset: j.offset, Reason: "the server sent the whole body again, with the same " + v.String()})
		default:
			why := fmt.Sprintf("a Range request with If-Range %s was answered with the whole body, %s", j.val.ifRange(), v)
			if j.val.none() {
				why = "the server answered a Range request with the whole body, and there is no strong validator to tell whether it changed"
			} else if v == j.val {
				why = fmt.Sprintf("the size changed from %d to %d under the same %s", j.size, cl, v)
			}
			if err := j.restart(why); err != nil {
				return false, err
			}
		}
	}
	if j.offset == 0 {
		size := cl
		if size < 0 {
			size = -1
		}
		if err := j.learn(v, size); err != nil {
			return false, err
		}
	}
	read, err := j.copy(x, resp.Body, skip, cl)
	var past *pastLimit
	if errors.As(err, &past) {
		return false, j.overrun(past)
	}
	if err != nil {
		return false, err
	}
	if cl < 0 && !chunked(resp) {
		// The body ended at the connection's close.
		if cn, ok := x.conn.(interface{ CloseNotifyReceived() bool }); ok {
			if !cn.CloseNotifyReceived() {
				return false, fmt.Errorf("%w (after %d bytes)", ErrTruncated, j.offset)
			}
		} else if j.opt.Size == 0 && j.opt.SHA256 == nil {
			return false, ErrUnknownEnd
		}
	}
	if read < skip {
		return false, j.restart(fmt.Sprintf("the whole body sent again under the same %s is %d bytes, fewer than the %d held", v, read, skip))
	}
	if j.size >= 0 && j.offset != j.size {
		return false, j.restart(fmt.Sprintf("the body under %s ended at %d bytes, not at the %d it had", v, j.offset, j.size))
	}
	j.size = j.offset
	return true, nil
}

func chunked(resp *http.Response) bool {
	return len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
}

// partial handles a 206, checking its Content-Range and, when the request
// carried If-Range, that it shows that validator (RFC 9110 §13.1.5 and
// §15.3.7: a 206 carries the ETag a 200 would): one that shows another, or
// none, is of a server that ignored If-Range, and its bytes may be of
// another representation.
func (j *job) partial(x *exchange, resp *http.Response, askedLast int64, ifRange bool) (bool, error) {
	cr, err := parseContentRange(resp.Header.Values("Content-Range"))
	if err != nil {
		return false, err
	}
	if cr.first < 0 {
		return false, &ProtocolError{Reason: "a 206 with an unsatisfied Content-Range"}
	}
	if bad, why := j.val.contradicts(resp.Header); bad {
		return false, j.restart(why)
	}
	if ifRange && !j.val.shownBy(resp.Header) {
		return false, j.restart(fmt.Sprintf("a 206 to a request with If-Range %s does not show that %s", j.val.ifRange(), j.val.field()))
	}
	if j.size >= 0 && cr.complete != j.size {
		return false, j.restart(fmt.Sprintf("the size changed from %d to %d (Content-Range %s)", j.size, cr.complete, resp.Header.Get("Content-Range")))
	}
	if j.opt.Size > 0 && cr.complete != j.opt.Size {
		return false, &SizeError{Got: cr.complete, Want: j.opt.Size}
	}
	switch n := cr.last - cr.first + 1; {
	case cr.first != j.offset:
		return false, &ProtocolError{Reason: fmt.Sprintf("asked for bytes from %d, the server sent from %d", j.offset, cr.first)}
	case askedLast >= 0 && cr.last > askedLast:
		return false, &ProtocolError{Reason: fmt.Sprintf("asked for bytes up to %d, the server sent up to %d", askedLast, cr.last)}
	case resp.ContentLength >= 0 && resp.ContentLength != n:
		return false, &ProtocolError{Reason: fmt.Sprintf("Content-Length %d does not match Content-Range %s", resp.ContentLength, resp.Header.Get("Content-Range"))}
	}
	if j.size < 0 {
		v := j.val
		if j.offset == 0 {
			v = validatorOf(resp.Header)
		}
		if err := j.learn(v, cr.complete); err != nil {
			return false, err
		}
	}
	if j.val.none() && j.opt.SHA256 == nil && cr.last+1 < cr.complete {
		return false, ErrNoValidator
	}
	// The range is within the size, so the limit is never passed here.
	if _, err := j.copy(x, resp.Body, 0, cr.last-cr.first+1); err != nil {
		return false, err
	}
	return j.offset == j.size, nil
}

// unsatisfiable handles a 416 (RFC 9110 §15.5.17): Content-Range bytes
// */complete. Bytes held equal to the complete length are the whole body only
// if the representation is still the one they came from.
func (j *job) unsatisfiable(x *exchange, resp *http.Response) (bool, error) {
	cr, err := parseContentRange(resp.Header.Values("Content-Range"))
	if err != nil {
		return false, err
	}
	if cr.first >= 0 {
		return false, &ProtocolError{Reason: "a 416 with a satisfied Content-Range"}
	}
	if j.opt.Size > 0 && cr.complete != j.opt.Size {
		return false, &SizeError{Got: cr.complete, Want: j.opt.Size}
	}
	if (j.size >= 0 && cr.complete != j.size) || cr.complete < j.offset {
		return false, j.restart(fmt.Sprintf("a 416 gives the size as %d, the bytes held are %d of %d", cr.complete, j.offset, j.size))
	}
	if cr.complete != j.offset {
		return false, &ProtocolError{Reason: fmt.Sprintf("a 416 for bytes from %d of %d", j.offset, cr.complete)}
	}
	if bad, why := j.val.contradicts(resp.Header); bad {
		return false, j.restart(why)
	}
	resp.Body.Close()
	return j.confirm(x)
}

// confirm checks with HEAD that bytes held as many as the resource's size
// are still of the current representation.
func (j *job) confirm(x *exchange) (bool, error) {
	if j.val.none() {
		if j.opt.SHA256 != nil {
			j.size = j.offset
			return true, nil // the digest decides
		}
		return false, j.restart("no strong validator to confirm the bytes held")
	}
	req, err := j.newRequest(x, http.MethodHead)
	if err != nil {
		return false, err
	}
	j.res.Requests++
	resp, err := j.client.Do(req)
	for _, c := range x.tried {
		j.noteConn(c)
	}
	if derr := j.deviceErr(); derr != nil {
		if err == nil {
			resp.Body.Close()
		}
		return false, derr
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		return false, &StatusError{Code: resp.StatusCode, Status: resp.Status}
	case resp.StatusCode != http.StatusOK:
		return false, j.restart(fmt.Sprintf("all %d bytes were held, and HEAD, answered %s, cannot confirm they are current", j.offset, resp.Status))
	}
	v := validatorOf(resp.Header)
	switch {
	case v != j.val:
		return false, j.restart(fmt.Sprintf("all %d bytes were held, but HEAD shows %s instead of %s", j.offset, v, j.val))
	case resp.ContentLength >= 0 && resp.ContentLength != j.offset:
		return false, j.restart(fmt.Sprintf("all %d bytes were held, but HEAD gives the size as %d", j.offset, resp.ContentLength))
	}
	j.size = j.offset
	return true, nil
}

// restart drops the bytes held so that the download starts again from
// byte 0, or fails with a *ChangedError when it may not.
func (j *job) restart(reason string) error {
	if j.opt.NoRestart || j.res.Restarts >= maxRestarts {
		return &ChangedError{Reason: reason, Offset: j.offset}
	}
	if err := j.out.Reset(); err != nil {
		return &ChangedError{Reason: reason + "; " + err.Error(), Offset: j.offset}
	}
	held := j.offset
	j.hash.Reset()
	j.offset, j.val, j.size = 0, validator{}, -1
	j.res.Restarts++
	j.event(Event{Kind: EventRestart, Offset: held, Reason: reason})
	return nil
}

// copy reads want bytes of body (to its end when want < 0) and, having
// read want, checks that the body ends there. It drops the first skip of
// them (bytes already held) and writes the rest. A known size (see limit)
// bounds the bytes held: the first read that would take them past it ends
// the copy, with nothing of that read written. It returns how many bytes
// of body it read.
func (j *job) copy(x *exchange, body io.Reader, skip, want int64) (int64, error) {
	limit := j.limit()
	var read int64
	for {
		b := j.buf
		if want >= 0 {
			if read == want {
				return read, j.atEnd(x, body, want)
			}
			if want-read < int64(len(b)) {
				b = b[:want-read]
			}
		}
		n, err := body.Read(b)
		if n > 0 {
			x.idle.Reset(j.opt.IdleTimeout)
			read += int64(n)
			p := b[:n]
			if skip > 0 {
				k := min(skip, int64(len(p)))
				skip -= k
				p = p[k:]
			}
			if limit >= 0 && j.offset+int64(len(p)) > limit {
				return read, &pastLimit{n: j.offset + int64(len(p))}
			}
			if len(p) > 0 {
				if _, werr := j.out.Write(p); werr != nil {
					return read, werr
				}
				j.hash.Write(p)
				j.offset += int64(len(p))
				if j.opt.Progress != nil {
					j.opt.Progress(j.offset, j.size)
				}
			}
			if err == nil {
				// Stop at once when cancelled, not after what the
				// connection has buffered.
				err = context.Cause(x.ctx)
			}
		}
		if err == io.EOF {
			if want >= 0 && read < want {
				return read, io.ErrUnexpectedEOF
			}
			return read, nil
		}
		if err != nil {
			return read, err
		}
	}
}

// atEnd checks that body, of which want bytes were read, ends there: a
// chunked or close-delimited body can go on past the length its headers
// give.
func (j *job) atEnd(x *exchange, body io.Reader, want int64) error {
	for range 100 {
		n, err := body.Read(j.buf[:1])
		switch {
		case n > 0:
			return &ProtocolError{Reason: fmt.Sprintf("the body goes on past the %d bytes its headers give", want)}
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
		if err := context.Cause(x.ctx); err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// limit is the most bytes the body may have: the smaller of the size of
// the representation and Options.Size, where known; -1 when neither is.
func (j *job) limit() int64 {
	switch {
	case j.opt.Size > 0 && j.size >= 0:
		return min(j.size, j.opt.Size)
	case j.opt.Size > 0:
		return j.opt.Size
	}
	return j.size
}

// pastLimit is a body that would take the bytes held to n, past the
// limit.
type pastLimit struct{ n int64 }

func (e *pastLimit) Error() string {
	return fmt.Sprintf("the body would take the bytes held to %d", e.n)
}

// overrun handles a body that went past the limit: it is not the size
// Options.Size gives, or, under a validator that had another size, it
// shows a change.
func (j *job) overrun(e *pastLimit) error {
	if j.opt.Size > 0 {
		return &SizeError{Got: e.n, Want: j.opt.Size, AtLeast: true}
	}
	return j.restart(fmt.Sprintf("the body under %s goes on past the %d bytes it had", j.val, j.size))
}

// sink is where the body goes.
type sink interface {
	io.Writer
	// Reset goes back to byte 0.
	Reset() error
}

type fileSink struct{ f *os.File }

func (s *fileSink) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *fileSink) Reset() error {
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	_, err := s.f.Seek(0, io.SeekStart)
	return err
}

type writerSink struct {
	w   io.Writer
	job *job
}

func (s *writerSink) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s *writerSink) Reset() error {
	if s.job.offset > 0 {
		return errors.New("the bytes already written to the stream cannot be taken back")
	}
	return nil
}

// finish syncs and closes the partial file and renames it into place,
// if the partial file's name still names it.
func finish(f *os.File, part, path string) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := samePart(f, part); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(part, path)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
