package bench

import (
	"context"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tlsapp/tlsapp/bench/internal/flash"
)

var sizeTargets = flag.String("size.targets", "linux/amd64",
	`targets for BenchmarkBinarySize: "all" or comma-separated GOOS/GOARCH[/vGOARM] (cross builds take a minute each with a cold build cache)`)

func targets(tb testing.TB) []flash.Target {
	if *sizeTargets == "all" {
		return flash.Targets
	}
	var ts []flash.Target
	for _, s := range strings.Split(*sizeTargets, ",") {
		f := strings.Split(s, "/")
		if len(f) < 2 {
			tb.Fatalf("-size.targets: %q is not GOOS/GOARCH", s)
		}
		t := flash.Target{GOOS: f[0], GOARCH: f[1]}
		if len(f) > 2 {
			t.GOARM = strings.TrimPrefix(f[2], "v")
		}
		ts = append(ts, t)
	}
	return ts
}

var (
	buildDirOnce sync.Once
	buildDir     string
	builtMu      sync.Mutex
	built        = map[string]int64{}
)

// binarySize builds p for t once per process and returns its size.
func binarySize(tb testing.TB, p flash.Program, t flash.Target) int64 {
	buildDirOnce.Do(func() { buildDir, _ = os.MkdirTemp("", "tlsapp-bench-size") })
	key := p.Name + " " + t.String()
	builtMu.Lock()
	defer builtMu.Unlock()
	if n, ok := built[key]; ok {
		return n
	}
	_, n, err := flash.Build(context.Background(), buildDir, p, t, false)
	if err != nil {
		tb.Fatal(err)
	}
	built[key] = n
	return n
}

// BenchmarkBinarySize reports the size of each minimal client, stripped
// (go build -trimpath -ldflags="-s -w"), and its ratio to the utls-only
// client. Only the host target by default; -args -size.targets=all for
// linux/amd64, linux/arm/v7 and linux/arm64 (or go run ./bench/size).
func BenchmarkBinarySize(b *testing.B) {
	for _, t := range targets(b) {
		for _, p := range flash.Programs {
			b.Run(strings.ReplaceAll(t.String(), "/", "-")+"/"+p.Name, func(b *testing.B) {
				n := binarySize(b, p, t)
				ref := binarySize(b, flash.Programs[len(flash.Programs)-1], t)
				for b.Loop() {
				}
				b.ReportMetric(float64(n), "bytes")
				b.ReportMetric(float64(n)/float64(ref), "ratio-vs-utls")
			})
		}
	}
}

// TestLinkedPackages checks that the minimal tlsapp client links neither
// the PKCS#11 stack nor the command line tool, and logs the packages it
// links beyond the utls client's.
func TestLinkedPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	ctx := context.Background()
	dir := t.TempDir()
	host := flash.Targets[0]
	pkgs := map[string]map[string]int64{}
	for _, p := range []flash.Program{flash.Programs[0], flash.Programs[len(flash.Programs)-1]} {
		bin, _, err := flash.Build(ctx, dir, p, host, true)
		if err != nil {
			t.Fatal(err)
		}
		if pkgs[p.Name], err = flash.Packages(ctx, bin); err != nil {
			t.Fatal(err)
		}
	}
	if v := flash.Violations(pkgs["tlsapp"]); len(v) > 0 {
		t.Errorf("the minimal tlsapp client links %s", strings.Join(v, ", "))
	}
	for _, e := range flash.Diff(pkgs["tlsapp"], pkgs["utls"]) {
		t.Logf("%8d %s", e.Size, e.Pkg)
	}
}
