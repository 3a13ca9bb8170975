package recordlimit

import "testing"

func TestMaxFragmentCodeFor(t *testing.T) {
	for n, want := range map[int]MaxFragmentCode{0: 0, 512: MFL512, 1024: MFL1024, 2048: MFL2048, 4096: MFL4096} {
		if got, err := MaxFragmentCodeFor(n); err != nil || got != want || (want != 0 && got.Bytes() != n) {
			t.Errorf("MaxFragmentCodeFor(%d) = %v, %v", n, got, err)
		}
	}
	for _, n := range []int{1, 511, 513, 8192, 16384, -1} {
		if _, err := MaxFragmentCodeFor(n); err == nil {
			t.Errorf("MaxFragmentCodeFor(%d) accepted", n)
		}
	}
}
