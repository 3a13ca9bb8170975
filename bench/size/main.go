// Command size reports the flash a minimal tlsapp client needs: the size of
// a stripped binary (go build -trimpath -ldflags="-s -w") that dials with
// tlsapp.Dial and copies to stdout, against the same program on crypto/tls
// and on plain utls, for linux/amd64, linux/arm (GOARM=7) and linux/arm64;
// and which packages the tlsapp client links that the utls client does not.
//
//	go run ./bench/size
//	go run ./bench/size -targets linux/amd64
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/tlsapp/tlsapp/bench/internal/flash"
)

func main() {
	targets := flag.String("targets", "", "comma-separated GOOS/GOARCH[/vGOARM] (default: all three)")
	flag.Parse()
	log.SetFlags(0)
	ts := flash.Targets
	if *targets != "" {
		ts = nil
		for _, s := range strings.Split(*targets, ",") {
			f := strings.Split(s, "/")
			t := flash.Target{GOOS: f[0], GOARCH: f[1]}
			if len(f) > 2 {
				t.GOARM = strings.TrimPrefix(f[2], "v")
			}
			ts = append(ts, t)
		}
	}
	dir, err := os.MkdirTemp("", "tlsapp-size")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	fmt.Printf("%-16s %12s %12s %12s %10s %10s\n", "target", "tlsapp", "crypto/tls", "utls", "vs utls", "vs crypto/tls")
	for _, t := range ts {
		sizes := map[string]int64{}
		for _, p := range flash.Programs {
			_, n, err := flash.Build(ctx, dir, p, t, false)
			if err != nil {
				log.Fatal(err)
			}
			sizes[p.Name] = n
		}
		fmt.Printf("%-16s %12d %12d %12d %10.3f %10.3f\n", t, sizes["tlsapp"], sizes["crypto/tls"], sizes["utls"],
			float64(sizes["tlsapp"])/float64(sizes["utls"]), float64(sizes["tlsapp"])/float64(sizes["crypto/tls"]))
	}

	// What the library adds, from the symbol tables of unstripped builds.
	host := ts[0]
	pkgs := map[string]map[string]int64{}
	for _, p := range flash.Programs {
		bin, _, err := flash.Build(ctx, dir, p, host, true)
		if err != nil {
			log.Fatal(err)
		}
		if pkgs[p.Name], err = flash.Packages(ctx, bin); err != nil {
			log.Fatal(err)
		}
		if p.Name == "tlsapp" {
			mods, err := flash.Modules(ctx, bin)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("\nmodules linked by the tlsapp client (go version -m):\n")
			for _, m := range mods {
				fmt.Printf("  %s\n", m)
			}
		}
	}
	fmt.Printf("\npackages the tlsapp client links and the utls client does not (%s, symbol bytes):\n", host)
	var total int64
	for _, e := range flash.Diff(pkgs["tlsapp"], pkgs["utls"]) {
		fmt.Printf("  %8d  %s\n", e.Size, e.Pkg)
		total += e.Size
	}
	fmt.Printf("  %8d  total\n", total)
	if v := flash.Violations(pkgs["tlsapp"]); len(v) > 0 {
		fmt.Printf("\nFORBIDDEN packages linked: %s\n", strings.Join(v, ", "))
		os.Exit(1)
	}
	fmt.Printf("\nnone of %s is linked\n", strings.Join(flash.Forbidden, ", "))
}
