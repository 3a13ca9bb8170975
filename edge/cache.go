package edge

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// copyBuffer is the size of the buffers a fill and a reader use: the only
// memory an object costs per device or per fill, whatever its size.
const copyBuffer = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBuffer); return &b }}

// errFill matches the error a device's download ends with when the fill it
// reads from fails: the origin's body was cut, stalled or longer than
// announced, or the disk refused it. The partial file is deleted.
var errFill = errors.New("edge: filling the object from the origin failed")

// cache is the on-disk object cache: one directory of object files (see
// record.go), an index of them in memory, least recently used first out.
type cache struct {
	dir       string
	maxBytes  int64
	maxObject int64
	log       *slog.Logger
	m         *metrics

	fills sync.WaitGroup // running fills

	mu      sync.Mutex
	entries map[string]*entry
	lru     *list.List // of *object, complete ones, most recently used first
	uses    uint64     // counts the uses of objects, to order the lru
	bytes   int64      // complete objects' file sizes plus fills' reservations
}

// entry is what the cache knows of one key: its latest complete version,
// a fill in progress, and whether a request that will become a fill is
// asking the origin.
type entry struct {
	done   *object
	fill   *object
	asking chan struct{} // closed when the asking request knows what it got
}

// object is one version of one key: a fill in progress or a complete file.
type object struct {
	meta    meta
	name    string // file name, without the ".part" a fill has
	base    int64  // where the body starts in the file
	reserve int64  // bytes counted in cache.bytes while filling

	// Guarded by cache.mu.
	elem       *list.Element
	used       uint64 // cache.uses when a request last used it, filling or not
	fileSize   int64
	freshUntil time.Time
	touched    time.Time

	mu      sync.Mutex
	path    string
	size    int64 // -1 until known
	written int64
	done    bool
	err     error
	sum     [sha256.Size]byte
	wake    chan struct{} // closed at every change, then replaced
}

// deviceETag is the entity tag devices see: the origin's strong one, or,
// for a complete object of an origin that gave none, a hash of the body.
func (o *object) deviceETag() string {
	if o.meta.etag != "" {
		return o.meta.etag
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.done || o.err != nil {
		return ""
	}
	return `"sha256-` + hex.EncodeToString(o.sum[:]) + `"`
}

// progress returns what the object holds now and a channel closed at its
// next change.
func (o *object) progress() (written, size int64, wake <-chan struct{}, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.written, o.size, o.wake, o.err
}

// changed records a change; o.mu must be held.
func (o *object) changedLocked() {
	close(o.wake)
	o.wake = make(chan struct{})
}

// waitSize waits until the object's size is known.
func (o *object) waitSize(ctx context.Context) (int64, error) {
	for {
		_, size, wake, err := o.progress()
		if err != nil {
			return 0, err
		}
		if size >= 0 {
			return size, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
	}
}

// open opens the object's file for reading. A fill that is renamed or
// removed afterwards stays readable through the returned file.
func (o *object) open() (*os.File, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return nil, o.err
	}
	return os.Open(o.path)
}

// objectReader reads an object's body, waiting for a fill to bring the
// bytes asked for: an io.ReadSeeker for http.ServeContent.
type objectReader struct {
	ctx  context.Context
	o    *object
	f    *os.File
	size int64
	pos  int64
	err  error // the last error Read returned
}

func (r *objectReader) Read(p []byte) (int, error) {
	n, err := r.read(p)
	if err != nil {
		r.err = err
	}
	return n, err
}

func (r *objectReader) read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.size-r.pos)]
	for {
		written, _, wake, err := r.o.progress()
		if r.pos < written {
			n, rerr := r.f.ReadAt(p[:min(int64(len(p)), written-r.pos)], r.o.base+r.pos)
			r.pos += int64(n)
			if n > 0 {
				return n, nil
			}
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return 0, rerr
		}
		if err != nil {
			return 0, err
		}
		select {
		case <-wake:
		case <-r.ctx.Done():
			return 0, context.Cause(r.ctx)
		}
	}
}

func (r *objectReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("edge: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("edge: negative position")
	}
	r.pos = offset
	return offset, nil
}

// openCache opens (making it if needed) the cache in dir and rebuilds its
// index from the object files there: fills a previous process left are
// deleted, and so is every file whose trailer, length or hash does not
// match; of several versions of one key the newest is kept.
func openCache(dir string, maxBytes, maxObject int64, log *slog.Logger, m *metrics) (*cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &cache{dir: dir, maxBytes: maxBytes, maxObject: maxObject, log: log, m: m,
		entries: map[string]*entry{}, lru: list.New()}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type found struct {
		o     *object
		mtime time.Time
	}
	var all []found
	for _, de := range des {
		name := de.Name()
		p := filepath.Join(dir, name)
		if !de.Type().IsRegular() || !strings.HasSuffix(name, ".obj") && !strings.HasSuffix(name, ".obj.part") {
			continue // not ours: left alone
		}
		if strings.HasSuffix(name, ".part") {
			c.log.Info("cache: deleting a partial fill left by a previous process", "file", name)
			os.Remove(p)
			continue
		}
		o, err := verifyObject(p)
		if err != nil {
			c.log.Warn("cache: deleting an object file that does not verify", "file", name, "err", err)
			os.Remove(p)
			continue
		}
		o.name = name
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		all = append(all, found{o, st.ModTime()})
	}
	// Oldest use first, so that PushFront leaves the newest at the front.
	sort.Slice(all, func(i, j int) bool { return all[i].mtime.Before(all[j].mtime) })
	for _, f := range all {
		en := c.entryLocked(f.o.meta.key)
		if old := en.done; old != nil {
			if old.meta.created.After(f.o.meta.created) {
				os.Remove(f.o.path)
				continue
			}
			c.removeLocked(old)
			os.Remove(old.path)
		}
		en.done = f.o
		f.o.elem = c.lru.PushFront(f.o)
		f.o.touched = f.mtime
		c.bytes += f.o.fileSize
	}
	for _, p := range c.evictLocked(0) {
		os.Remove(p)
	}
	c.gaugesLocked()
	return c, nil
}

// verifyObject reads and checks a complete object file.
func verifyObject(p string) (*object, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	head := make([]byte, min(st.Size(), int64(maxHeader)))
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	m, base, err := decodeHeader(head)
	if err != nil {
		return nil, err
	}
	if st.Size() < int64(base)+trailerLen {
		return nil, fmt.Errorf("%w: shorter than its header and trailer", errCorrupt)
	}
	trailer := make([]byte, trailerLen)
	if _, err := f.ReadAt(trailer, st.Size()-trailerLen); err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	size, sum, err := decodeTrailer(trailer)
	if err != nil {
		return nil, err
	}
	if int64(base)+size+trailerLen != st.Size() {
		return nil, fmt.Errorf("%w: body length %d does not match the file's", errCorrupt, size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, int64(base), size)); err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if [sha256.Size]byte(h.Sum(nil)) != sum {
		return nil, fmt.Errorf("%w: body hash does not match", errCorrupt)
	}
	o := &object{meta: m, base: int64(base), path: p, size: size, written: size, done: true,
		sum: sum, fileSize: st.Size(), wake: make(chan struct{})}
	return o, nil
}

func (c *cache) entryLocked(key string) *entry {
	en := c.entries[key]
	if en == nil {
		en = &entry{}
		c.entries[key] = en
	}
	return en
}

// dropEntryLocked forgets an entry with nothing in it.
func (c *cache) dropEntryLocked(key string) {
	if en := c.entries[key]; en != nil && en.done == nil && en.fill == nil && en.asking == nil {
		delete(c.entries, key)
	}
}

// removeLocked takes a complete object out of the index; the caller
// removes its file.
func (c *cache) removeLocked(o *object) {
	if o.elem != nil {
		c.lru.Remove(o.elem)
		o.elem = nil
		c.bytes -= o.fileSize
	}
	if en := c.entries[o.meta.key]; en != nil && en.done == o {
		en.done = nil
		c.dropEntryLocked(o.meta.key)
	}
}

// evictLocked removes least recently used complete objects until need more
// bytes fit, and returns their files for the caller to remove.
func (c *cache) evictLocked(need int64) []string {
	var paths []string
	for c.bytes+need > c.maxBytes {
		back := c.lru.Back()
		if back == nil {
			break
		}
		o := back.Value.(*object)
		c.removeLocked(o)
		paths = append(paths, o.path)
		c.m.evictions.Inc()
	}
	return paths
}

func (c *cache) gaugesLocked() {
	c.m.cacheBytes.Set(float64(c.bytes))
	c.m.cacheObjects.Set(float64(c.lru.Len()))
}

// pushLocked puts a complete fill in the lru at the place of its last use:
// a device streamed from it while it filled used it then, and objects used
// since, whose fills may have ended first, stay ahead of it.
func (c *cache) pushLocked(o *object) {
	e := c.lru.Front()
	for e != nil && e.Value.(*object).used > o.used {
		e = e.Next()
	}
	if e == nil {
		o.elem = c.lru.PushBack(o)
	} else {
		o.elem = c.lru.InsertBefore(o, e)
	}
}

// touchLocked marks a complete object used now, and now and then its
// file's modification time too, which orders the index after a restart.
func (c *cache) touchLocked(o *object, now time.Time) {
	c.uses++
	o.used = c.uses
	if o.elem == nil {
		return // a fill: pushLocked places it by its last use
	}
	c.lru.MoveToFront(o.elem)
	if now.Sub(o.touched) > time.Minute {
		o.touched = now
		go os.Chtimes(o.path, time.Time{}, now)
	}
}

// startFill makes a new object for m's key from an origin response body of
// size bytes (-1: unknown) and fills it in the background; it becomes the
// key's fill, fresh until fresh. The fill owns body and calls cancel when it
// ends. When the key's fill or complete object already has m's strong
// entity tag, that one is returned instead and started is false: the
// caller keeps body.
func (c *cache) startFill(m meta, size int64, body io.ReadCloser, cancel context.CancelFunc, idle time.Duration, fresh time.Time) (o *object, started bool, err error) {
	if o := c.sameVersion(m, fresh); o != nil {
		return o, false, nil
	}
	hdr, err := encodeHeader(m)
	if err != nil {
		return nil, false, err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	keySum := sha256.Sum256([]byte(m.key))
	name := fmt.Sprintf("%x-%016x-%x.obj", keySum[:12], m.created.UnixNano(), rnd)
	p := filepath.Join(c.dir, name+".part")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		os.Remove(p)
		return nil, false, err
	}
	o = &object{meta: m, name: name, base: int64(len(hdr)), path: p, size: size, wake: make(chan struct{})}
	o.reserve = max(size, 0) + int64(len(hdr)) + trailerLen
	c.mu.Lock()
	if same := c.sameVersionLocked(m, fresh); same != nil {
		c.mu.Unlock()
		f.Close()
		os.Remove(p)
		return same, false, nil
	}
	o.freshUntil = fresh
	c.uses++
	o.used = c.uses
	en := c.entryLocked(m.key)
	en.fill = o
	evicted := c.evictLocked(o.reserve)
	c.bytes += o.reserve
	c.gaugesLocked()
	c.mu.Unlock()
	for _, p := range evicted {
		os.Remove(p)
	}
	c.m.fills.Inc()
	c.fills.Add(1)
	go c.runFill(o, f, body, cancel, idle)
	return o, true, nil
}

func (c *cache) sameVersion(m meta, fresh time.Time) *object {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sameVersionLocked(m, fresh)
}

// sameVersionLocked returns the key's fill or complete object with m's
// strong entity tag, marking it used and fresh until fresh.
func (c *cache) sameVersionLocked(m meta, fresh time.Time) *object {
	en := c.entries[m.key]
	if m.etag == "" || en == nil {
		return nil
	}
	for _, o := range []*object{en.fill, en.done} {
		if o != nil && o.meta.etag == m.etag {
			o.freshUntil = fresh
			c.touchLocked(o, time.Now())
			return o
		}
	}
	return nil
}

// runFill copies the origin's body into the object's file, then seals and
// publishes it, or deletes it on any failure.
func (c *cache) runFill(o *object, f *os.File, body io.ReadCloser, cancel context.CancelFunc, idle time.Duration) {
	defer c.fills.Done()
	defer c.m.fills.Dec()
	defer cancel()
	defer body.Close()
	err := c.copyBody(o, f, body, cancel, idle)
	if err == nil {
		err = c.seal(o, f)
	}
	f.Close()
	c.mu.Lock()
	en := c.entries[o.meta.key]
	current := en != nil && en.fill == o
	if current {
		en.fill = nil
	}
	c.bytes -= o.reserve
	var evicted []string
	if err == nil && current {
		c.m.originBytes.Add(float64(o.written))
		if o.fileSize > c.maxBytes {
			err = fmt.Errorf("%w: %d bytes do not fit the cache", errFill, o.fileSize)
		} else {
			if old := en.done; old != nil {
				c.removeLocked(old)
				evicted = append(evicted, old.path)
			}
			en = c.entryLocked(o.meta.key)
			evicted = append(evicted, c.evictLocked(o.fileSize)...)
			en.done = o
			c.pushLocked(o)
			o.touched = time.Now()
			c.bytes += o.fileSize
		}
	}
	if !current || err != nil {
		c.dropEntryLocked(o.meta.key)
	}
	c.gaugesLocked()
	c.mu.Unlock()
	for _, p := range evicted {
		os.Remove(p)
	}
	o.mu.Lock()
	switch {
	case err != nil:
		c.log.Warn("cache: fill failed", "path", o.meta.key, "bytes", o.written, "err", err)
		o.err = fmt.Errorf("%w: %w", errFill, err)
		os.Remove(o.path)
		c.m.fillErrors.Inc()
	case !current:
		// A newer response replaced this one while it filled: its
		// readers finish from the open file, which nobody finds again.
		o.done = true
		os.Remove(o.path)
	default:
		o.done = true
	}
	o.changedLocked()
	o.mu.Unlock()
}

// copyBody reads the origin's body into f after the header, hashing it,
// waking readers after every write; idle without a byte cancels the
// origin request.
func (c *cache) copyBody(o *object, f *os.File, body io.Reader, cancel context.CancelFunc, idle time.Duration) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	h := sha256.New()
	watchdog := time.AfterFunc(idle, cancel)
	defer watchdog.Stop()
	limit := c.maxObject
	if o.size >= 0 {
		limit = o.size
	}
	var n int64
	for {
		k, rerr := body.Read(buf)
		watchdog.Reset(idle)
		if k > 0 {
			if n+int64(k) > limit {
				return fmt.Errorf("origin sent more than %d bytes", limit)
			}
			if _, err := f.WriteAt(buf[:k], o.base+n); err != nil {
				return err
			}
			h.Write(buf[:k])
			n += int64(k)
			o.mu.Lock()
			o.written = n
			o.changedLocked()
			o.mu.Unlock()
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if o.size >= 0 && n != o.size {
		return fmt.Errorf("origin sent %d of %d bytes", n, o.size)
	}
	o.mu.Lock()
	o.sum = [sha256.Size]byte(h.Sum(nil))
	o.mu.Unlock()
	return nil
}

// seal writes the trailer, syncs the file and renames it into place, so
// that a crash at any point leaves either a ".part" file or a complete one.
func (c *cache) seal(o *object, f *os.File) error {
	o.mu.Lock()
	n, sum := o.written, o.sum
	o.mu.Unlock()
	if _, err := f.WriteAt(encodeTrailer(n, sum), o.base+n); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	final := filepath.Join(c.dir, o.name)
	o.mu.Lock()
	err := os.Rename(o.path, final)
	if err == nil {
		o.path = final
		o.size = n
	}
	o.mu.Unlock()
	if err != nil {
		return err
	}
	if d, err := os.Open(c.dir); err == nil {
		d.Sync()
		d.Close()
	}
	c.mu.Lock()
	o.fileSize = o.base + n + trailerLen
	c.mu.Unlock()
	return nil
}
