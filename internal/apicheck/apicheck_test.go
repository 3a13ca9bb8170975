package apicheck

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite api.txt from the code")

// root is the module's top folder, seen from this package's folder.
const root = "../.."

// load type-checks every public package of the module, once for all tests.
func load(t *testing.T) []*Package {
	t.Helper()
	pkgs, err := loadOnce()
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

var loadOnce = sync.OnceValues(func() ([]*Package, error) {
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	mod := modulePath(gomod)
	if mod == "" {
		return nil, errors.New("go.mod names no module")
	}
	dirs, err := PublicDirs(root)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	imp := NewImporter(fset)
	var pkgs []*Package
	for _, d := range dirs {
		path := mod
		if d != "." {
			path += "/" + d
		}
		p, err := Load(fset, imp, filepath.Join(root, d), path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
})

// TestAPI fails when the exported API differs from api.txt.
func TestAPI(t *testing.T) {
	var b bytes.Buffer
	for _, p := range load(t) {
		for _, l := range p.Lines() {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	golden := filepath.Join(root, "api.txt")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./internal/apicheck -update)", err)
	}
	if bytes.Equal(want, b.Bytes()) {
		return
	}
	added, removed := diff(strings.Split(string(want), "\n"), strings.Split(b.String(), "\n"))
	for _, l := range removed {
		t.Errorf("removed from the API: %s", l)
	}
	for _, l := range added {
		t.Errorf("added to the API: %s", l)
	}
	t.Log("if the change is deliberate: go test ./internal/apicheck -update, and review the diff of api.txt")
}

// diff returns the lines only in got (added) and only in want (removed).
func diff(want, got []string) (added, removed []string) {
	in := func(ls []string) map[string]bool {
		m := make(map[string]bool, len(ls))
		for _, l := range ls {
			if l != "" {
				m[l] = true
			}
		}
		return m
	}
	w, g := in(want), in(got)
	for _, l := range got {
		if l != "" && !w[l] {
			added = append(added, l)
		}
	}
	for _, l := range want {
		if l != "" && !g[l] {
			removed = append(removed, l)
		}
	}
	return added, removed
}

// TestNoDependencyTypes walks every exported declaration with go/types and
// fails on any that names a utls type: a utls upgrade must not be able to
// break a user's build.
func TestNoDependencyTypes(t *testing.T) {
	for _, p := range load(t) {
		for _, l := range p.Leaks("github.com/refraction-networking/") {
			t.Errorf("exported API names a dependency's type: %s", l)
		}
	}
}

// modulePath returns the path on go.mod's module line.
func modulePath(gomod []byte) string {
	for _, l := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// TestDocLinks fails on a doc link that names nothing, such as
// [NewEncrypted] in a package that has no NewEncrypted.
func TestDocLinks(t *testing.T) {
	pkgs := load(t)
	mod := map[string]*types.Package{}
	for _, p := range pkgs {
		mod[p.Path] = p.Types
	}
	for _, p := range pkgs {
		for _, l := range p.BrokenDocLinks(mod) {
			t.Errorf("doc link names nothing: %s", l)
		}
	}
}

// TestCredstoreOwnsNoClient: credstore and tlsapp meet only in package
// trust; neither imports the other, so a device that keeps no credentials
// links no store, and a store links no TLS client.
func TestCredstoreOwnsNoClient(t *testing.T) {
	pkgs := load(t)
	byPath := map[string]*Package{}
	for _, p := range pkgs {
		byPath[p.Path] = p
	}
	const mod = "github.com/tlsapp/tlsapp/"
	for _, pair := range [][2]string{{"credstore", "tlsapp"}, {"tlsapp", "credstore"}} {
		from, to := byPath[mod+pair[0]], mod+pair[1]
		if from == nil {
			t.Fatalf("no package %s", pair[0])
		}
		seen := map[*types.Package]bool{}
		var walk func(p *types.Package) bool
		walk = func(p *types.Package) bool {
			if seen[p] {
				return false
			}
			seen[p] = true
			if p.Path() == to {
				return true
			}
			for _, q := range p.Imports() {
				if walk(q) {
					return true
				}
			}
			return false
		}
		if walk(from.Types) {
			t.Errorf("%s imports %s", pair[0], to)
		}
	}
}
