package guard_test

import (
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// discard is a transport that takes every write.
type discard struct{ pipe }

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// TestWriteAllocations bounds what the guards allocate per write once the
// handshake is over, buffers taken from and given back to their pools: a
// batch of any size up to the largest pooled one, an unbatched write, a
// server's steady write, and a server's plaintext handshake record split
// at its cap allocate nothing (on average over many writes: a garbage
// collection may empty a pool).
func TestWriteAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	for _, total := range []int{100, 18437, 30000, 64 << 10} {
		g := guard.NewConn(&discard{}, recordlimit.Offer{})
		g.EndHandshake()
		var w [][]byte
		for n := 0; n < total; {
			k := min(16384, total-n)
			w = append(w, rec(ctAppData, make([]byte, k)))
			n += k + 5
		}
		run := func() {
			p := g
			p.BeginBatch(total)
			for _, r := range w {
				p.Write(r)
			}
			p.Flush(true)
		}
		run()
		if a := testing.AllocsPerRun(50, run); a > 0.5 {
			t.Errorf("a batch of %d bytes: %.1f allocations", total, a)
		}
	}
	t.Run("unbatched", func(t *testing.T) {
		g := guard.NewConn(&discard{}, recordlimit.Offer{})
		g.EndHandshake()
		r := rec(ctAppData, make([]byte, 1000))
		if a := testing.AllocsPerRun(50, func() { g.Write(r) }); a > 0.5 {
			t.Errorf("%.1f allocations", a)
		}
	})
	for _, tc := range []struct {
		name string
		w    []byte
		rsl  int
	}{
		{"server, steady", rec(ctAppData, make([]byte, 16000)), 100},
		{"server, a Certificate split at 63", rec(ctHandshake, sized(hsCertificate, 16380)), 64},
		{"server, a Certificate split at 4095", rec(ctHandshake, sized(hsCertificate, 16380)), 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipe{in: rec(ctHandshake, clientHello(0, rslExt(tc.rsl)))}
			g := guard.NewServerConn(p, 0)
			drain(t, g, 4096)
			g.Write(rec(ctHandshake, serverHello(gcm12, nil)))
			if tc.w[0] == ctAppData {
				g.Write(rec(ctCCS, []byte{1}))
			}
			g.Write(tc.w)
			if a := testing.AllocsPerRun(50, func() { p.out = p.out[:0]; g.Write(tc.w) }); a > 0.5 {
				t.Errorf("%.1f allocations per write", a)
			}
		})
	}
}
