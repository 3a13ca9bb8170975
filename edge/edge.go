package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// Defaults of Config and ServeOptions.
const (
	// DefaultMaxRecord is the record cap an edge serves with: every record
	// carries at most 2048 content bytes, which with any suite's expansion
	// stays within the 2303 bytes an nRF91 modem can receive.
	DefaultMaxRecord = 2048
	// DefaultCacheBytes bounds the cache on disk.
	DefaultCacheBytes = 1 << 30
	// DefaultOriginTimeout bounds the wait for the origin's response
	// headers, and for each read of its body.
	DefaultOriginTimeout = 30 * time.Second
	// DefaultOriginConns bounds the connections to the origin.
	DefaultOriginConns = 64
)

// ErrConfig matches every error about an invalid Config.
var ErrConfig = errors.New("edge: invalid config")

// Config configures an Edge.
type Config struct {
	// Origin is the base URL of the one origin the edge mirrors:
	// https://host[:port][/path]. A device's request for /p?q is sent to
	// the origin as base path + /p?q, path and query byte for byte. Only
	// https is accepted.
	Origin string

	// OriginRoots are the CAs the origin's certificate is verified
	// against; nil means the system's.
	OriginRoots *x509.CertPool

	// Hosts are the names (or IP addresses) devices reach the edge by. A
	// request whose Host header (without its port) is not one of them is
	// refused with 421 and the origin is not contacted. At least one.
	Hosts []string

	// CacheDir is the directory of the cache. It is made if missing, and
	// the edge owns the files it names *.obj and *.obj.part there.
	CacheDir string

	// CacheBytes bounds the bytes the cache's object files take on disk;
	// the least recently used objects are evicted first. 0 means
	// DefaultCacheBytes.
	CacheBytes int64

	// MaxObjectBytes bounds one object: a larger origin response is
	// answered 502 and not cached. 0 means CacheBytes.
	MaxObjectBytes int64

	// CacheOnlyWithinMaxAge lets the edge answer a request whose URL has
	// no query from the cache alone, without asking the origin, while the
	// origin's Cache-Control max-age (or s-maxage) of its last answer for
	// the object has not run out. A request with a query (a pre-signed
	// URL) is always authorized by the origin. Off by default.
	CacheOnlyWithinMaxAge bool

	// OriginTimeout bounds the wait for the origin's response headers and
	// for each read of its body. 0 means DefaultOriginTimeout.
	OriginTimeout time.Duration

	// OriginConns bounds the connections open to the origin at once; the
	// requests of more devices wait for one (each device request is one
	// origin request). 0 means DefaultOriginConns.
	OriginConns int

	// Logger receives one line per request (see Edge) and the cache's
	// notices; nil means none.
	Logger *slog.Logger
}

// Edge is a caching mirror of one HTTPS origin for devices that keep their
// modem's TLS: an http.Handler, and with Serve a TLS server whose records
// fit such a modem. See the package documentation for the model.
//
// Each request is logged in one line at level Info with message "request"
// and the attributes client, method, path, query (whether there was one:
// its value, a signature, is not logged), status, range, bytes (body bytes
// sent), tls (version), suite, resumed, largest_record (the largest record
// the connection has sent, handshake included, as on the wire), cache (hit,
// revalidated, miss, refused, error or invalid), origin_status and
// duration.
type Edge struct {
	base      *url.URL // the origin's base URL: scheme, host, path
	hosts     map[string]bool
	client    *http.Client
	cache     *cache
	log       *slog.Logger
	m         *metrics
	cacheOnly bool
	timeout   time.Duration

	ctx     context.Context // ends when the edge closes: cancels fills
	cancel  context.CancelFunc
	largest atomic.Int64
	now     func() time.Time
}

// New opens the cache in cfg.CacheDir (rebuilding its index from the files
// there, and deleting every partial or damaged one) and returns an Edge.
func New(cfg Config) (*Edge, error) {
	u, err := url.Parse(cfg.Origin)
	if err != nil {
		return nil, fmt.Errorf("%w: Origin: %w", ErrConfig, err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: Origin must be https://host[:port][/path], without user, query or fragment", ErrConfig)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	if len(cfg.Hosts) == 0 {
		return nil, fmt.Errorf("%w: Hosts must name the edge at least once", ErrConfig)
	}
	if cfg.CacheDir == "" {
		return nil, fmt.Errorf("%w: CacheDir is needed", ErrConfig)
	}
	if cfg.CacheBytes < 0 || cfg.MaxObjectBytes < 0 || cfg.OriginTimeout < 0 || cfg.OriginConns < 0 {
		return nil, fmt.Errorf("%w: negative size or timeout", ErrConfig)
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = DefaultCacheBytes
	}
	if cfg.MaxObjectBytes == 0 || cfg.MaxObjectBytes > cfg.CacheBytes {
		cfg.MaxObjectBytes = cfg.CacheBytes
	}
	if cfg.OriginTimeout == 0 {
		cfg.OriginTimeout = DefaultOriginTimeout
	}
	if cfg.OriginConns == 0 {
		cfg.OriginConns = DefaultOriginConns
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Edge{base: u, hosts: map[string]bool{}, log: log, m: newMetrics(),
		cacheOnly: cfg.CacheOnlyWithinMaxAge, timeout: cfg.OriginTimeout, now: time.Now}
	for _, h := range cfg.Hosts {
		e.hosts[normalHost(h)] = true
	}
	e.client = &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:        &tls.Config{RootCAs: cfg.OriginRoots, MinVersion: tls.VersionTLS12},
			DialContext:            (&net.Dialer{Timeout: cfg.OriginTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:      true,
			TLSHandshakeTimeout:    cfg.OriginTimeout,
			ResponseHeaderTimeout:  cfg.OriginTimeout,
			MaxIdleConnsPerHost:    64,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
			DisableCompression:     true,
		},
		// A redirect would lead away from the origin: it is an answer
		// the edge does not follow (502).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	e.cache, err = openCache(cfg.CacheDir, cfg.CacheBytes, cfg.MaxObjectBytes, log, e.m)
	if err != nil {
		return nil, err
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Close stops the fills in progress (their partial files are deleted) and
// waits for them. Requests still being answered from a fill end with an
// error; call it after the server has shut down.
func (e *Edge) Close() error {
	e.cancel()
	e.cache.fills.Wait()
	e.client.CloseIdleConnections()
	return nil
}

// Metrics returns the handler of the edge's Prometheus metrics (request
// and origin counts by outcome, bytes, cache size and objects, evictions,
// fills, connections, the largest record sent, request durations, and the
// Go runtime's and process's metrics). Serve it on an address of its own,
// not to devices.
func (e *Edge) Metrics() http.Handler { return e.m.handler() }

// normalHost lowers a host name and strips a port, brackets and a final
// dot.
func normalHost(h string) string {
	if host, port, err := net.SplitHostPort(h); err == nil && port != "" && strings.Trim(port, "0123456789") == "" {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// outcome is what the cache did for a request.
type outcome string

const (
	outHit         outcome = "hit"         // answered from the cache alone (CacheOnlyWithinMaxAge)
	outRevalidated outcome = "revalidated" // the origin answered 304, or 200 with the cached validator
	outMiss        outcome = "miss"        // the origin's 200 started a fill
	outRefused     outcome = "refused"     // the origin refused (4xx): passed on, no body
	outError       outcome = "error"       // the origin could not be asked or answered oddly: 502
	outInvalid     outcome = "invalid"     // the edge refused the request itself
)

// reqInfo collects what the request line logs.
type reqInfo struct {
	cache        outcome
	originStatus int
}

// ServeHTTP answers a device's GET or HEAD from the cache once the origin
// has authorized it (see the package documentation).
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &responseWriter{ResponseWriter: w}
	info := &reqInfo{cache: outInvalid}
	defer func() { e.finish(r, rw, info, start) }()
	t, status, err := e.admit(r)
	if err != nil {
		if status == http.StatusMethodNotAllowed {
			rw.Header().Set("Allow", "GET, HEAD")
		}
		plain(rw, status, err.Error())
		return
	}
	o, resp, err := e.authorize(r, t, info)
	switch {
	case err != nil:
		info.cache = outError
		plain(rw, http.StatusBadGateway, "edge: "+err.Error())
		return
	case o == nil:
		info.cache = outRefused
		if v := resp.Header.Get("WWW-Authenticate"); v != "" && resp.StatusCode == http.StatusUnauthorized {
			rw.Header().Set("WWW-Authenticate", v)
		}
		plain(rw, resp.StatusCode, fmt.Sprintf("origin answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
		return
	}
	e.serveObject(rw, r, o, info)
}

// admit checks the request line and Host before anything else: the
// origin is never asked about a request it refuses.
func (e *Edge) admit(r *http.Request) (target, int, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return target{}, http.StatusMethodNotAllowed, fmt.Errorf("%w: method %s: only GET and HEAD", errRefused, r.Method)
	}
	t, err := parseTarget(r.RequestURI)
	if err != nil {
		return target{}, http.StatusBadRequest, err
	}
	if !e.hosts[normalHost(r.Host)] {
		return target{}, http.StatusMisdirectedRequest, fmt.Errorf("%w: Host %q is not this edge's", errRefused, r.Host)
	}
	return t, 0, nil
}

// authorize asks the origin about the request and returns the object to
// serve, or (nil, the origin's response) when the origin refused, or an
// error when it could not be asked or answered something the edge does
// not serve. Concurrent requests for a key nothing is cached for wait for
// the first one's answer, so that one origin request fetches the body and
// the others ask conditionally.
func (e *Edge) authorize(r *http.Request, t target, info *reqInfo) (*object, *http.Response, error) {
	ctx := r.Context()
	c := e.cache
	for {
		c.mu.Lock()
		en := c.entryLocked(t.path)
		cand := en.fill
		if cand == nil {
			cand = en.done
		}
		if cand == nil && en.asking != nil {
			ch := en.asking
			c.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, nil, context.Cause(ctx)
			}
		}
		var asking chan struct{}
		if cand == nil {
			asking = make(chan struct{})
			en.asking = asking
		}
		now := e.now()
		if cand != nil && e.cacheOnly && !t.hasQuery && now.Before(cand.freshUntil) {
			c.touchLocked(cand, now)
			c.mu.Unlock()
			info.cache = outHit
			return cand, nil, nil
		}
		c.mu.Unlock()
		o, resp, err := e.ask(r, t, cand, asking, info)
		if asking != nil {
			c.mu.Lock()
			close(asking)
			if en.asking == asking {
				en.asking = nil
			}
			c.dropEntryLocked(t.path)
			c.mu.Unlock()
		}
		if errors.Is(err, errGone) {
			continue // the cached version was evicted while the origin answered: ask again
		}
		return o, resp, err
	}
}

// errGone is ask's answer when the object the origin validated is gone.
var errGone = errors.New("edge: cached object evicted")

// ask sends the device's request to the origin, conditional on cand's
// validator when there is a cand, and returns what to serve.
func (e *Edge) ask(r *http.Request, t target, cand *object, asking chan struct{}, info *reqInfo) (*object, *http.Response, error) {
	octx, cancel := context.WithCancel(e.ctx)
	stop := context.AfterFunc(r.Context(), cancel)
	req, err := e.originRequest(octx, r, t, cand)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	resp, err := e.client.Do(req)
	if !stop() {
		// The device is gone: whatever came is not needed.
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, nil, context.Cause(r.Context())
	}
	if err != nil {
		cancel()
		e.m.originRequests.WithLabelValues("error").Inc()
		return nil, nil, fmt.Errorf("origin: %w", err)
	}
	e.m.origin(resp.StatusCode)
	info.originStatus = resp.StatusCode
	keep := false
	defer func() {
		if !keep {
			resp.Body.Close()
			cancel()
		}
	}()
	now := e.now()
	fresh := now.Add(freshness(resp.Header))
	c := e.cache
	switch {
	case resp.StatusCode == http.StatusNotModified:
		if cand == nil {
			return nil, nil, errors.New("origin answered 304 to a request with no validator")
		}
		if !validatorMatches(cand, resp.Header) {
			return nil, nil, errors.New("origin answered 304 with another validator than the one asked about")
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if cand.isDone() && cand.elem == nil {
			return nil, nil, errGone
		}
		cand.freshUntil = fresh
		c.touchLocked(cand, now)
		info.cache = outRevalidated
		return cand, nil, nil
	case resp.StatusCode == http.StatusOK:
		m := meta{key: t.path, created: now, ctype: resp.Header.Get("Content-Type"), cenc: resp.Header.Get("Content-Encoding")}
		if tag := resp.Header.Get("ETag"); isStrongETag(tag) && len(tag) <= maxField {
			m.etag = tag
		}
		if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
			m.modified = lm.UTC()
		}
		if len(m.ctype) > maxField || len(m.cenc) > maxField {
			return nil, nil, errors.New("origin's Content-Type or Content-Encoding is too long")
		}
		if resp.ContentLength > c.maxObject {
			return nil, nil, fmt.Errorf("origin's object of %d bytes is above the limit of %d", resp.ContentLength, c.maxObject)
		}
		o, started, err := c.startFill(m, resp.ContentLength, resp.Body, cancel, e.timeout, fresh)
		if err != nil {
			return nil, nil, fmt.Errorf("cache: %w", err)
		}
		if !started {
			// The same version is cached or filling: that is served.
			info.cache = outRevalidated
			return o, nil, nil
		}
		keep = true
		info.cache = outMiss
		return o, nil, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return nil, resp, nil
	default:
		return nil, nil, fmt.Errorf("origin answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
}

// isDone reports whether the object is complete (or failed).
func (o *object) isDone() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.done
}

// validatorMatches checks that a 304 is about cand: an entity tag in it,
// if any, is cand's.
func validatorMatches(cand *object, h http.Header) bool {
	tag := h.Get("ETag")
	return tag == "" || cand.meta.etag == "" || tag == cand.meta.etag
}

// originRequest is the request the origin is asked, for a device's request
// and the cached version cand (nil: none). What it carries is the list in
// the package documentation, and nothing else.
func (e *Edge) originRequest(ctx context.Context, r *http.Request, t target, cand *object) (*http.Request, error) {
	u := *e.base
	u.Path = e.base.Path + t.path
	u.RawPath = e.base.EscapedPath() + t.rawPath
	u.RawQuery = t.rawQuery
	u.ForceQuery = t.hasQuery && t.rawQuery == ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header = http.Header{}
	if v := r.Header.Values("Authorization"); len(v) > 0 {
		req.Header["Authorization"] = v
	}
	req.Header.Set("User-Agent", "tlsapp-edge")
	req.Header.Set("Accept-Encoding", "identity")
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.Header.Set("X-Forwarded-For", ip)
	}
	if cand != nil {
		switch {
		case cand.meta.etag != "":
			req.Header.Set("If-None-Match", cand.meta.etag)
		case !cand.meta.modified.IsZero():
			req.Header.Set("If-Modified-Since", cand.meta.modified.Format(http.TimeFormat))
		}
	}
	return req, nil
}

// freshness is how long the origin lets a shared cache answer alone
// (s-maxage, else max-age, less Age); 0 with no-cache, no-store or
// private.
func freshness(h http.Header) time.Duration {
	var maxAge, sMaxAge int64 = -1, -1
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store", "private":
				return 0
			case "max-age":
				maxAge = parseSeconds(val)
			case "s-maxage":
				sMaxAge = parseSeconds(val)
			}
		}
	}
	age := sMaxAge
	if age < 0 {
		age = maxAge
	}
	if age <= 0 {
		return 0
	}
	if a := parseSeconds(h.Get("Age")); a > 0 {
		age -= a
	}
	return time.Duration(max(age, 0)) * time.Second
}

// parseSeconds parses a delta-seconds value, -1 when it is not one.
func parseSeconds(v string) int64 {
	v = strings.Trim(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return min(n, 1<<31)
}

// serveObject answers from o, complete or filling, with http.ServeContent:
// conditional requests, a single Range (206, or 416), If-Range and HEAD.
// A Range of several ranges is answered with the whole body.
func (e *Edge) serveObject(w *responseWriter, r *http.Request, o *object, info *reqInfo) {
	ctx := r.Context()
	size, err := o.waitSize(ctx)
	if err != nil {
		info.cache = outError
		plain(w, http.StatusBadGateway, "edge: "+err.Error())
		return
	}
	f, err := o.open()
	if err != nil {
		info.cache = outError
		plain(w, http.StatusBadGateway, "edge: "+err.Error())
		return
	}
	defer f.Close()
	h := w.Header()
	if tag := o.deviceETag(); tag != "" {
		h.Set("ETag", tag)
	}
	if o.meta.ctype != "" {
		h.Set("Content-Type", o.meta.ctype)
	} else {
		h["Content-Type"] = nil // no sniffing: the origin said nothing
	}
	if o.meta.cenc != "" {
		h.Set("Content-Encoding", o.meta.cenc)
	}
	if strings.Contains(r.Header.Get("Range"), ",") {
		r.Header.Del("Range")
	}
	rd := &objectReader{ctx: ctx, o: o, f: f, size: size}
	http.ServeContent(w, r, "", o.meta.modified, rd)
	if rd.err != nil && !errors.Is(rd.err, io.EOF) {
		// The body cannot be completed: cut the connection, so that the
		// device never takes what it got for the whole (with chunked
		// encoding, returning would end the body cleanly).
		info.cache = outError
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	}
}

// plain answers a short text.
func plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// finish logs the request and counts it.
func (e *Edge) finish(r *http.Request, w *responseWriter, info *reqInfo, start time.Time) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	d := time.Since(start)
	e.m.requests.WithLabelValues(string(info.cache), strconv.Itoa(status)).Inc()
	e.m.sentBytes.Add(float64(w.bytes))
	e.m.duration.Observe(d.Seconds())
	attrs := []slog.Attr{
		slog.String("client", r.RemoteAddr),
		slog.String("method", r.Method),
		slog.String("path", pathForLog(r.RequestURI)),
		slog.Bool("query", strings.Contains(r.RequestURI, "?")),
		slog.Int("status", status),
		slog.String("range", r.Header.Get("Range")),
		slog.Int64("bytes", w.bytes),
	}
	if st, ok := tlsapp.ServerStateFrom(r.Context()); ok {
		cs := st.ConnectionState
		largest := int64(st.LargestSent)
		if prev := e.largest.Load(); largest > prev && e.largest.CompareAndSwap(prev, largest) {
			e.m.largestRecord.Set(float64(largest))
		}
		attrs = append(attrs,
			slog.String("tls", tls.VersionName(cs.Version)),
			slog.String("suite", tls.CipherSuiteName(cs.CipherSuite)),
			slog.Bool("resumed", cs.DidResume),
			slog.Int64("largest_record", largest))
	}
	attrs = append(attrs, slog.String("cache", string(info.cache)))
	if info.originStatus != 0 {
		attrs = append(attrs, slog.Int("origin_status", info.originStatus))
	}
	attrs = append(attrs, slog.Duration("duration", d))
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}

// pathForLog is the request-target without its query, cut to 256 bytes.
func pathForLog(s string) string {
	s, _, _ = strings.Cut(s, "?")
	if len(s) > 256 {
		s = s[:256]
	}
	return s
}

// responseWriter remembers the status and body bytes of a response.
type responseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom hands the copy to net/http's own, which reuses its buffers
// (http.ServeContent would otherwise make one per response).
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
