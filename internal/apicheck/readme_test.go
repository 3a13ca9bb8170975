package apicheck

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// packageDirs returns every folder below root, relative to it, that holds Go
// files: the packages `go list ./...` lists, test-only ones included.
func packageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".go") {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			rel = filepath.ToSlash(rel)
			if len(dirs) == 0 || dirs[len(dirs)-1] != rel {
				dirs = append(dirs, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	return dirs
}

// readmePackages returns the package paths the README's "Packages" table
// names in its first column.
func readmePackages(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## Packages\n")
	if i < 0 {
		t.Fatal("README.md has no \"## Packages\" section")
	}
	s = s[i+len("\n## Packages\n"):]
	if j := strings.Index(s, "\n## "); j >= 0 {
		s = s[:j]
	}
	tick := regexp.MustCompile("`([^`]+)`")
	names := map[string]bool{}
	for _, line := range strings.Split(s, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, m := range tick.FindAllStringSubmatch(cells[1], -1) {
			names[m[1]] = true
		}
	}
	return names
}

// TestReadmePackages fails when the README's package table leaves out a
// package of the module, or names one that does not exist. A package is
// covered when it or a folder above it is in the table (bench covers
// bench/internal/flash).
func TestReadmePackages(t *testing.T) {
	listed := readmePackages(t)
	dirs := packageDirs(t)
	exists := map[string]bool{}
	for _, d := range dirs {
		exists[d] = true
		covered := false
		for p := d; p != "." && p != ""; p = filepath.ToSlash(filepath.Dir(p)) {
			if listed[p] {
				covered = true
				break
			}
		}
		if !covered {
			t.Errorf("README.md's package table does not name %s", d)
		}
	}
	for name := range listed {
		if !exists[name] {
			t.Errorf("README.md's package table names %s, which is not a package of the module", name)
		}
	}
}
