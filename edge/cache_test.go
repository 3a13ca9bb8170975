package edge

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestEvictionOrderFillsEndLate: the least recently used object goes first
// even when the fills end in another order than the requests came. A fill
// whose end (sync, rename) comes after a later object's was still used
// first: the later object must not be evicted before it.
func TestEvictionOrderFillsEndLate(t *testing.T) {
	const size = 1000
	hdr, err := encodeHeader(meta{key: "/a", etag: `"/a"`, created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	file := int64(size + len(hdr) + trailerLen) // three fit, four do not
	c, err := openCache(t.TempDir(), 3*file, file, slog.New(slog.DiscardHandler), newMetrics())
	if err != nil {
		t.Fatal(err)
	}
	fill := func(key string, body io.ReadCloser) *object {
		t.Helper()
		_, cancel := context.WithCancel(context.Background())
		o, started, err := c.startFill(meta{key: key, etag: `"` + key + `"`, created: time.Now()}, size, body, cancel, time.Minute, time.Time{})
		if err != nil || !started {
			t.Fatalf("%s: %v, started %v", key, err, started)
		}
		return o
	}
	wait := func(o *object) {
		t.Helper()
		for {
			written, _, wake, err := o.progress()
			o.mu.Lock()
			done := o.done
			o.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if done && written == size {
				c.fills.Wait()
				return
			}
			select {
			case <-wake:
			case <-time.After(10 * time.Second):
				t.Fatal("the fill did not end")
			}
		}
	}
	body := bytes.Repeat([]byte{1}, size)
	a := fill("/a", io.NopCloser(bytes.NewReader(body)))
	wait(a)
	// /b is asked for before /c, but its fill ends after /c's.
	pr, pw := io.Pipe()
	b := fill("/b", pr)
	cObj := fill("/c", io.NopCloser(bytes.NewReader(body)))
	for {
		c.mu.Lock()
		in := cObj.elem != nil
		c.mu.Unlock()
		if in {
			break
		}
		time.Sleep(time.Millisecond)
	}
	pw.Write(body)
	pw.Close()
	wait(b)
	c.mu.Lock()
	c.touchLocked(a, time.Now()) // /a used again: /b is now the least recently used
	c.mu.Unlock()
	fill("/d", io.NopCloser(bytes.NewReader(body)))
	c.fills.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var order []string
	for e := c.lru.Front(); e != nil; e = e.Next() {
		order = append(order, e.Value.(*object).meta.key)
	}
	if len(order) != 3 || order[0] != "/d" || order[1] != "/a" || order[2] != "/c" {
		t.Fatalf("lru %v, want [/d /a /c]: /b, used before /c, goes first", order)
	}
}
