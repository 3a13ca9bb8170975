// Package flash builds the minimal clients under bench/size/internal and
// measures what they cost in flash: the size of the stripped binary, and
// which packages the tlsapp client links that the plain utls client does
// not.
package flash

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Target is a platform to build for.
type Target struct {
	GOOS, GOARCH, GOARM string
}

func (t Target) String() string {
	s := t.GOOS + "/" + t.GOARCH
	if t.GOARM != "" {
		s += "/v" + t.GOARM
	}
	return s
}

// Targets are the platforms measured: a PC, a 32-bit ARMv7 application
// core and a 64-bit ARM one.
var Targets = []Target{{"linux", "amd64", ""}, {"linux", "arm", "7"}, {"linux", "arm64", ""}}

// Program is one minimal client: dial, handshake, io.Copy to stdout.
type Program struct {
	Name string // the TLS stack it uses
	Pkg  string // its import path
}

const base = "github.com/tlsapp/tlsapp/bench/size/internal/"

// Programs are the library's minimal client and its two baselines; the
// last is the one the others are compared with.
var Programs = []Program{
	{"tlsapp", base + "tlsappclient"},
	{"crypto/tls", base + "tlsclient"},
	{"utls", base + "utlsclient"},
}

// Forbidden are import path fragments that must never reach a device
// binary through the library: the PKCS#11 stack and the command line tool.
var Forbidden = []string{"pkcs11", "crypto11", "github.com/tlsapp/tlsapp/cmd", "progressbar", "credstore"}

// Build builds p for t into dir with -trimpath, stripped (-s -w) unless
// symbols is set, and returns the binary's path and size.
func Build(ctx context.Context, dir string, p Program, t Target, symbols bool) (string, int64, error) {
	name := strings.NewReplacer("/", "_").Replace(p.Name + "-" + t.String())
	if symbols {
		name += "-syms"
	}
	out := filepath.Join(dir, name)
	args := []string{"build", "-trimpath", "-o", out}
	if !symbols {
		args = append(args, "-ldflags=-s -w")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, p.Pkg)...)
	cmd.Env = append(os.Environ(), "GOOS="+t.GOOS, "GOARCH="+t.GOARCH, "GOARM="+t.GOARM, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("go build %s for %s: %v\n%s", p.Pkg, t, err, msg)
	}
	fi, err := os.Stat(out)
	if err != nil {
		return "", 0, err
	}
	return out, fi.Size(), nil
}

// Modules lists the module dependencies go version -m reports for a binary.
func Modules(ctx context.Context, binary string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "go", "version", "-m", binary).Output()
	if err != nil {
		return nil, fmt.Errorf("go version -m %s: %v", binary, err)
	}
	var mods []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "dep" {
			mods = append(mods, f[1]+" "+f[2])
		}
	}
	return mods, nil
}

// Packages sums the sizes of a binary's symbols (built with symbols) by Go
// package, from go tool nm -size.
func Packages(ctx context.Context, binary string) (map[string]int64, error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "nm", "-size", binary).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool nm %s: %v", binary, err)
	}
	pkgs := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// address size type name
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		if pkg := PackageOf(strings.Join(f[3:], " ")); pkg != "" {
			pkgs[pkg] += size
		}
	}
	return pkgs, sc.Err()
}

// PackageOf returns the import path a symbol belongs to, or "" for linker
// symbols.
func PackageOf(sym string) string {
	for _, prefix := range []string{"type:.eq.", "type:.hash.", "type:", "go:itab.*", "go:itab."} {
		sym = strings.TrimPrefix(sym, prefix)
	}
	sym = strings.TrimLeft(sym, "*")
	if i := strings.IndexAny(sym, "[(, "); i >= 0 {
		sym = sym[:i]
	}
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	if dot < 0 {
		return ""
	}
	pkg := sym[:slash+1+dot]
	if strings.HasPrefix(pkg, "go:") || pkg == "" {
		return ""
	}
	return pkg
}

// Extra is a package linked into one binary but not another, with the
// bytes of its symbols.
type Extra struct {
	Pkg  string
	Size int64
}

// Diff returns the packages of a that b lacks, largest first.
func Diff(a, b map[string]int64) []Extra {
	var d []Extra
	for p, n := range a {
		if _, ok := b[p]; !ok {
			d = append(d, Extra{p, n})
		}
	}
	sort.Slice(d, func(i, j int) bool { return d[i].Size > d[j].Size || d[i].Size == d[j].Size && d[i].Pkg < d[j].Pkg })
	return d
}

// Violations returns the packages that match Forbidden.
func Violations(pkgs map[string]int64) []string {
	var v []string
	for p := range pkgs {
		for _, f := range Forbidden {
			if strings.Contains(p, f) {
				v = append(v, p)
				break
			}
		}
	}
	sort.Strings(v)
	return v
}
