package download

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
)

// TestShrinkSteps checks the chunk RangeShrink steps to after a record
// the device could not hold, at each boundary of the rule: 128 bytes
// smaller above 256, 8 at 256 and below, giving up below 8; and nothing
// without RangeShrink, without a chunk, or for another error. The
// download's tests against crypto/tls (TestRangeShrink) see the steps
// above 256 on the wire; the ones below need a device that holds less
// than a certificate, which no handshake fits.
func TestShrinkSteps(t *testing.T) {
	emsgsize := fmt.Errorf("read: %w", syscall.EMSGSIZE)
	for _, tc := range []struct {
		chunk  int
		shrink bool
		err    error
		next   int // 0: no shrink
	}{
		{2048, true, emsgsize, 1920},
		{384, true, emsgsize, 256},
		{257, true, emsgsize, 129},
		{256, true, emsgsize, 248},
		{16, true, emsgsize, 8},
		{15, true, emsgsize, 0},
		{8, true, emsgsize, 0},
		{0, true, emsgsize, 0},
		{2048, false, emsgsize, 0},
		{2048, true, errors.New("other"), 0},
	} {
		var got []Event
		j, err := newJob("https://127.0.0.1/fw.bin", Options{RangeChunk: tc.chunk, RangeShrink: tc.shrink, Event: func(e Event) { got = append(got, e) }})
		if err != nil {
			t.Fatal(err)
		}
		j.offset = 4096
		ok := j.shrink(tc.err)
		name := fmt.Sprintf("chunk %d, RangeShrink %v, %v", tc.chunk, tc.shrink, tc.err)
		if tc.next == 0 {
			if ok || len(got) != 0 || j.res.RangeChunk != tc.chunk {
				t.Errorf("%s: shrank to %d (%v, events %+v), want no shrink", name, j.res.RangeChunk, ok, got)
			}
			continue
		}
		want := Event{Kind: EventShrink, Offset: 4096, Err: tc.err,
			Reason: fmt.Sprintf("Range chunk %d -> %d after a record the device cannot hold", tc.chunk, tc.next)}
		if !ok || j.res.RangeChunk != tc.next || len(got) != 1 || got[0] != want {
			t.Errorf("%s: %v, chunk %d, events %+v; want a shrink to %d, %+v", name, ok, j.res.RangeChunk, got, tc.next, want)
		}
	}
}
