package apicheck

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Package is one type-checked package of the module.
type Package struct {
	Path  string // import path
	Types *types.Package
	Files []*ast.File
}

// Load parses and type-checks the non-test Go files of the package in dir,
// whose import path is path. Imports are resolved from source, so the
// caller's module and its dependencies must be available.
func Load(fset *token.FileSet, imp types.Importer, dir, path string) (*Package, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, e := range ents {
		name := e.Name()
		// The files this platform builds, as go build picks them.
		if ok, err := build.Default.MatchFile(dir, name); err != nil || !ok || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution|parser.ParseComments)
		if err != nil {
			return nil, err
		}
		if f.Name.Name == "main" {
			return nil, fmt.Errorf("apicheck: %s is a command", path)
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return fset.File(files[i].Pos()).Name() < fset.File(files[j].Pos()).Name() })
	conf := types.Config{Importer: imp}
	tp, err := conf.Check(path, fset, files, nil)
	if err != nil {
		return nil, err
	}
	return &Package{Path: path, Types: tp, Files: files}, nil
}

// NewImporter returns an importer that type-checks imports from source.
func NewImporter(fset *token.FileSet) types.Importer {
	return importer.ForCompiler(fset, "source", nil)
}

// Lines returns the package's exported API, one sorted line a declaration,
// each beginning with "pkg PATH, ".
func (p *Package) Lines() []string {
	q := func(other *types.Package) string {
		if other == p.Types {
			return ""
		}
		return other.Path()
	}
	pre := "pkg " + p.Path + ", "
	var out []string
	scope := p.Types.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch o := obj.(type) {
		case *types.Const:
			out = append(out, pre+fmt.Sprintf("const %s %s = %s", name, types.TypeString(o.Type(), q), o.Val().ExactString()))
		case *types.Var:
			out = append(out, pre+fmt.Sprintf("var %s %s", name, types.TypeString(o.Type(), q)))
		case *types.Func:
			out = append(out, pre+"func "+name+strings.TrimPrefix(types.TypeString(o.Type(), q), "func"))
		case *types.TypeName:
			out = append(out, typeLines(pre, o, q)...)
		}
	}
	sort.Strings(out)
	return out
}

func typeLines(pre string, o *types.TypeName, q types.Qualifier) []string {
	name := o.Name()
	if o.IsAlias() {
		return []string{pre + fmt.Sprintf("type %s = %s", name, types.TypeString(o.Type().(*types.Alias).Rhs(), q))}
	}
	var out []string
	under := o.Type().Underlying()
	switch u := under.(type) {
	case *types.Struct:
		out = append(out, pre+fmt.Sprintf("type %s struct", name))
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			if !f.Exported() {
				continue
			}
			if f.Embedded() {
				out = append(out, pre+fmt.Sprintf("type %s struct, embedded %s", name, types.TypeString(f.Type(), q)))
				continue
			}
			out = append(out, pre+fmt.Sprintf("type %s struct, %s %s", name, f.Name(), types.TypeString(f.Type(), q)))
		}
	case *types.Interface:
		out = append(out, pre+fmt.Sprintf("type %s interface", name))
		for i := 0; i < u.NumEmbeddeds(); i++ {
			out = append(out, pre+fmt.Sprintf("type %s interface, embedded %s", name, types.TypeString(u.EmbeddedType(i), q)))
		}
		for i := 0; i < u.NumExplicitMethods(); i++ {
			m := u.ExplicitMethod(i)
			if m.Exported() {
				out = append(out, pre+fmt.Sprintf("type %s interface, %s%s", name, m.Name(), strings.TrimPrefix(types.TypeString(m.Type(), q), "func")))
			}
		}
		if !u.IsMethodSet() {
			out = append(out, pre+fmt.Sprintf("type %s interface, constraint %s", name, types.TypeString(u, q)))
		}
	default:
		out = append(out, pre+fmt.Sprintf("type %s %s", name, types.TypeString(under, q)))
	}
	// The method set of *T holds the methods of T and *T, promoted ones
	// included: that is what a user can call.
	ms := types.NewMethodSet(types.NewPointer(o.Type()))
	for i := 0; i < ms.Len(); i++ {
		sel := ms.At(i)
		m := sel.Obj()
		if !m.Exported() {
			continue
		}
		sig := m.Type().(*types.Signature)
		recv := name
		if _, ptr := sig.Recv().Type().(*types.Pointer); ptr {
			recv = "*" + name
		}
		line := pre + fmt.Sprintf("method (%s) %s%s", recv, m.Name(), strings.TrimPrefix(types.TypeString(sig, q), "func"))
		if len(sel.Index()) > 1 {
			line += " (promoted)"
		}
		out = append(out, line)
	}
	return out
}

// Leaks reports every exported declaration of the package whose type
// mentions a named type from a package whose import path has one of the
// given prefixes: a dependency the module keeps out of its public API.
func (p *Package) Leaks(prefixes ...string) []string {
	var out []string
	seen := map[types.Type]bool{}
	var walk func(where string, t types.Type)
	bad := func(pkg *types.Package) bool {
		if pkg == nil {
			return false
		}
		for _, pre := range prefixes {
			if strings.HasPrefix(pkg.Path(), pre) {
				return true
			}
		}
		return false
	}
	walk = func(where string, t types.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		switch t := t.(type) {
		case *types.Alias:
			if bad(t.Obj().Pkg()) {
				out = append(out, where+": "+t.String())
				return
			}
			walk(where, types.Unalias(t))
		case *types.Named:
			if bad(t.Obj().Pkg()) {
				out = append(out, where+": "+t.String())
				return
			}
			for i := 0; i < t.TypeArgs().Len(); i++ {
				walk(where, t.TypeArgs().At(i))
			}
			// A type of our own is walked only where it is ours: its
			// exported fields and methods are checked when it is listed.
		case *types.Pointer:
			walk(where, t.Elem())
		case *types.Slice:
			walk(where, t.Elem())
		case *types.Array:
			walk(where, t.Elem())
		case *types.Map:
			walk(where, t.Key())
			walk(where, t.Elem())
		case *types.Chan:
			walk(where, t.Elem())
		case *types.Signature:
			for i := 0; i < t.Params().Len(); i++ {
				walk(where, t.Params().At(i).Type())
			}
			for i := 0; i < t.Results().Len(); i++ {
				walk(where, t.Results().At(i).Type())
			}
		case *types.Struct:
			for i := 0; i < t.NumFields(); i++ {
				if f := t.Field(i); f.Exported() || f.Embedded() {
					walk(where+"."+f.Name(), f.Type())
				}
			}
		case *types.Interface:
			for i := 0; i < t.NumMethods(); i++ {
				if m := t.Method(i); m.Exported() {
					walk(where+"."+m.Name(), m.Type())
				}
			}
		}
	}
	scope := p.Types.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		where := p.Path + "." + name
		tn, isType := obj.(*types.TypeName)
		if !isType {
			walk(where, obj.Type())
			continue
		}
		if tn.IsAlias() {
			walk(where, tn.Type())
			continue
		}
		walk(where, tn.Type().Underlying())
		ms := types.NewMethodSet(types.NewPointer(tn.Type()))
		for i := 0; i < ms.Len(); i++ {
			if m := ms.At(i).Obj(); m.Exported() {
				walk(where+"."+m.Name(), m.Type())
			}
		}
	}
	sort.Strings(out)
	return out
}

// PublicDirs returns the directories below root, relative to it, that hold
// an importable package of the module: not internal, not a command, not
// testdata. The result is sorted.
func PublicDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		base := d.Name()
		if rel != "." && (base == "internal" || base == "testdata" || base == "cmd" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")) {
			return filepath.SkipDir
		}
		has, err := libraryFiles(path)
		if err != nil {
			return err
		}
		if has {
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(dirs)
	return dirs, err
}

// libraryFiles reports whether dir holds non-test Go files of a package
// other than main.
func libraryFiles(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	fset := token.NewFileSet()
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.PackageClauseOnly)
		if err != nil {
			return false, err
		}
		return f.Name.Name != "main", nil
	}
	return false, nil
}
