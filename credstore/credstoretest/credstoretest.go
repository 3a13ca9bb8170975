package credstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/credstore"
)

// secretMarker is in every value the suite stores, so that it can tell
// whether List leaked one.
const secretMarker = "s3cr3t-do-not-list"

// value returns a distinct test value of n bytes (at least the marker)
// identified by id.
func value(id string, n int) []byte {
	b := []byte(secretMarker + ":" + id + ":")
	for i := 0; len(b) < n; i++ {
		b = append(b, byte(i*7+len(id)))
	}
	return b
}

// Run tests the Store that newStore returns. newStore is called once per
// subtest and must return an empty store; it may use t.Cleanup and
// t.TempDir.
func Run(t *testing.T, newStore func(t *testing.T) credstore.Store) {
	t.Helper()
	var kinds []credstore.Kind // the kinds the backend holds
	{
		s := newStore(t)
		ctx := context.Background()
		for _, k := range credstore.Kinds() {
			r := credstore.Ref{Tag: 1, Kind: k}
			err := s.Put(ctx, r, value("probe", 64))
			if errors.Is(err, errors.ErrUnsupported) {
				t.Logf("the store does not hold %v credentials: %v", k, err)
				continue
			}
			if err != nil {
				t.Fatalf("Put(%v): %v", r, err)
			}
			if err := s.Delete(ctx, r); err != nil {
				t.Fatalf("Delete(%v): %v", r, err)
			}
			kinds = append(kinds, k)
		}
		if len(kinds) == 0 {
			t.Fatal("the store holds no kind of credential")
		}
	}
	tests := []struct {
		name string
		f    func(*testing.T, credstore.Store, []credstore.Kind)
	}{
		{"Empty", testEmpty},
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"List", testList},
		{"Copies", testCopies},
		{"Context", testContext},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, newStore(t), kinds) })
	}
}

func testEmpty(t *testing.T, s credstore.Store, kinds []credstore.Kind) {
	ctx := context.Background()
	infos, err := s.List(ctx)
	if err != nil || len(infos) != 0 {
		t.Fatalf("List of a new store = %v, %v; want nothing", infos, err)
	}
	for _, k := range kinds {
		r := credstore.Ref{Tag: 7, Kind: k}
		if _, err := s.Get(ctx, r); !errors.Is(err, credstore.ErrNotFound) {
			t.Errorf("Get(%v) of nothing: %v, want ErrNotFound", r, err)
		}
		if err := s.Delete(ctx, r); !errors.Is(err, credstore.ErrNotFound) {
			t.Errorf("Delete(%v) of nothing: %v, want ErrNotFound", r, err)
		}
	}
}

func testRoundTrip(t *testing.T, s credstore.Store, kinds []credstore.Kind) {
	ctx := context.Background()
	sizes := []int{0, 1, 100, 4096, 1 << 20}
	for _, k := range kinds {
		for i, n := range sizes {
			r := credstore.Ref{Tag: credstore.Tag(100 + i), Kind: k}
			v := value(fmt.Sprint(r), n)
			if n == 0 {
				v = []byte{}
			}
			if err := s.Put(ctx, r, v); err != nil {
				t.Fatalf("Put(%v, %d bytes): %v", r, len(v), err)
			}
			got, err := s.Get(ctx, r)
			if err != nil || !bytes.Equal(got, v) {
				t.Errorf("Get(%v) = %d bytes, %v; want the %d bytes put", r, len(got), err, len(v))
			}
		}
	}
	// The ends of the tag range.
	for _, tag := range []credstore.Tag{0, math.MaxUint32} {
		r := credstore.Ref{Tag: tag, Kind: kinds[0]}
		if err := s.Put(ctx, r, value("edge", 10)); err != nil {
			t.Fatalf("Put(%v): %v", r, err)
		}
		if got, err := s.Get(ctx, r); err != nil || !bytes.Equal(got, value("edge", 10)) {
			t.Errorf("Get(%v) = %q, %v", r, got, err)
		}
	}
}

func testOverwrite(t *testing.T, s credstore.Store, kinds []credstore.Kind) {
	ctx := context.Background()
	for _, k := range kinds {
		r := credstore.Ref{Tag: 3, Kind: k}
		for i, n := range []int{5000, 50, 9000, 0} {
			v := value(fmt.Sprint("overwrite", i), n)
			if err := s.Put(ctx, r, v); err != nil {
				t.Fatalf("Put(%v) #%d: %v", r, i, err)
			}
			if got, err := s.Get(ctx, r); err != nil || !bytes.Equal(got, v) {
				t.Fatalf("Get(%v) after overwrite #%d = %d bytes, %v; want %d bytes", r, i, len(got), err, len(v))
			}
		}
		infos, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := countRef(infos, r); n != 1 {
			t.Errorf("List shows %v %d times after overwrites, want once", r, n)
		}
	}
}

func countRef(infos []credstore.Info, r credstore.Ref) int {
	n := 0
	for _, in := range infos {
		if in.Ref == r {
			n++
		}
	}
	return n
}

func testDelete(t *testing.T, s credstore.Store, kinds []credstore.Kind) {
	ctx := context.Background()
	keep := credstore.Ref{Tag: 5, Kind: kinds[0]}
	if err := s.Put(ctx, keep, value("keep", 20)); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		r := credstore.Ref{Tag: 6, Kind: k}
		if err := s.Put(ctx, r, value("gone", 20)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, r); err != nil {
			t.Fatalf("Delete(%v): %v", r, err)
		}
		if _, err := s.Get(ctx, r); !errors.Is(err, credstore.ErrNotFound) {
			t.Errorf("Get(%v) after Delete: %v, want ErrNotFound", r, err)
		}
		if err := s.Delete(ctx, r); !errors.Is(err, credstore.ErrNotFound) {
			t.Errorf("second Delete(%v): %v, want ErrNotFound", r, err)
		}
		// Put after Delete works again.
		if err := s.Put(ctx, r, value("back", 20)); err != nil {
			t.Fatalf("Put(%v) after Delete: %v", r, err)
		}
		if err := s.Delete(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Ref != keep {
		t.Errorf("List after deletes = %v, want only %v", infos, keep)
	}
	if got, err := s.Get(ctx, keep); err != nil || !bytes.Equal(got, value("keep", 20)) {
		t.Errorf("a Delete of another tag changed %v: %q, %v", keep, got, err)
	}
}

func testList(t *testing.T, s credstore.Store, kinds []credstore.Kind) {
	ctx := context.Background()
	want := map[credstore.Ref][]byte{}
	for _, tag := range []credstore.Tag{42, 9, 10, 1, 100000} {
		for _, k := range kinds {
			r := credstore.Ref{Tag: tag, Kind: k}
			want[r] = value(fmt.Sprint(r), 200+int(tag%97))
			if err := s.Put(ctx, r, want[r]); err != nil {
				t.Fatal(err)
			}
		}
	}
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(want) {
		t.Errorf("List returned %d credentials, want %d", len(infos), len(want))
	}
	if !slices.IsSortedFunc(infos, func(a, b credstore.Info) int {
		if a.Tag != b.Tag {
			return int(int64(a.Tag) - int64(b.Tag))
		}
		return int(a.Kind) - int(b.Kind)
	}) {
		t.Errorf("List is not ordered by tag, then kind: %v", infos)
	}
	for _, in := range infos {
		v, ok := want[in.Ref]
		if !ok {
			t.Errorf("List shows %v, which was never put", in.Ref)
			continue
		}
		if in.SHA256 != sha256.Sum256(v) || in.Size != len(v) {
			t.Errorf("List: %v has digest %x and size %d, want %x and %d", in.Ref, in.SHA256, in.Size, sha256.Sum256(v), len(v))
		}
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if s := fmt.Sprintf(format, infos); bytes.Contains([]byte(s), []byte(secretMarker)) {
			t.Errorf("List's result printed with %s shows a stored value", format)
		}
	}
}

func testCopies(t *testing.T, s credstore.Store, kinds []credstore.Kind) {
	ctx := context.Background()
	r := credstore.Ref{Tag: 8, Kind: kinds[0]}
	v := value("copy", 64)
	orig := bytes.Clone(v)
	if err := s.Put(ctx, r, v); err != nil {
		t.Fatal(err)
	}
	v[0] ^= 0xff // the caller reuses its buffer
	got, err := s.Get(ctx, r)
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("changing the slice passed to Put changed the store: %q, %v", got, err)
	}
	got[0] ^= 0xff
	if again, _ := s.Get(ctx, r); !bytes.Equal(again, orig) {
		t.Errorf("changing the slice Get returned changed the store")
	}
}

func testContext(t *testing.T, s credstore.Store, kinds []credstore.Kind) {
	ctx := context.Background()
	r := credstore.Ref{Tag: 11, Kind: kinds[0]}
	old := value("old", 100)
	if err := s.Put(ctx, r, old); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{cancelled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		if _, err := s.Get(c.ctx, r); !errors.Is(err, c.want) {
			t.Errorf("Get with a done context: %v, want %v", err, c.want)
		}
		if err := s.Put(c.ctx, r, value("new", 100)); !errors.Is(err, c.want) {
			t.Errorf("Put with a done context: %v, want %v", err, c.want)
		}
		if err := s.Put(c.ctx, credstore.Ref{Tag: 12, Kind: kinds[0]}, value("new", 100)); !errors.Is(err, c.want) {
			t.Errorf("Put of a new credential with a done context: %v, want %v", err, c.want)
		}
		if err := s.Delete(c.ctx, r); !errors.Is(err, c.want) {
			t.Errorf("Delete with a done context: %v, want %v", err, c.want)
		}
		if _, err := s.List(c.ctx); !errors.Is(err, c.want) {
			t.Errorf("List with a done context: %v, want %v", err, c.want)
		}
	}
	if got, err := s.Get(ctx, r); err != nil || !bytes.Equal(got, old) {
		t.Errorf("calls with a done context changed %v: %q, %v", r, got, err)
	}
	if infos, err := s.List(ctx); err != nil || len(infos) != 1 {
		t.Errorf("calls with a done context changed the store: %v, %v", infos, err)
	}
}

func testConcurrent(t *testing.T, s credstore.Store, kinds []credstore.Kind) {
	ctx := context.Background()
	const workers, rounds = 8, 25
	shared := credstore.Ref{Tag: 20, Kind: kinds[0]}
	vals := [][]byte{value("a", 5000), value("b", 7000), value("c", 300)}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := credstore.Ref{Tag: credstore.Tag(1000 + w), Kind: kinds[w%len(kinds)]}
			for i := range rounds {
				v := vals[(w+i)%len(vals)]
				if err := s.Put(ctx, shared, v); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				got, err := s.Get(ctx, shared)
				if err != nil && !errors.Is(err, credstore.ErrNotFound) {
					t.Errorf("Get: %v", err)
					return
				}
				if err == nil && !slices.ContainsFunc(vals, func(v []byte) bool { return bytes.Equal(v, got) }) {
					t.Errorf("Get returned %d bytes that were never put whole", len(got))
					return
				}
				mine := value(fmt.Sprint(own, i), 100+i)
				if err := s.Put(ctx, own, mine); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				if got, err := s.Get(ctx, own); err != nil || !bytes.Equal(got, mine) {
					t.Errorf("Get(%v) of this goroutine's own credential = %d bytes, %v", own, len(got), err)
					return
				}
				if _, err := s.List(ctx); err != nil {
					t.Errorf("List: %v", err)
					return
				}
				if i%5 == 4 {
					if err := s.Delete(ctx, shared); err != nil && !errors.Is(err, credstore.ErrNotFound) {
						t.Errorf("Delete: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for w := range workers {
		own := credstore.Ref{Tag: credstore.Tag(1000 + w), Kind: kinds[w%len(kinds)]}
		if countRef(infos, own) != 1 {
			t.Errorf("List after the goroutines lacks %v", own)
		}
	}
}
