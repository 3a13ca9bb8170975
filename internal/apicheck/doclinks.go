package apicheck

import (
	"go/ast"
	"go/doc/comment"
	"go/types"
	"strconv"
	"strings"
)

// BrokenDocLinks returns the doc links ([Name], [Type.Method], [pkg.Name])
// in the package's comments that name nothing: a symbol missing from the
// package itself, or from one of the module's packages in mod (by import
// path). Links into other packages are not checked.
func (p *Package) BrokenDocLinks(mod map[string]*types.Package) []string {
	var out []string
	for _, f := range p.Files {
		imports := map[string]string{} // name → import path, for [pkg.Name]
		for _, is := range f.Imports {
			path, _ := strconv.Unquote(is.Path.Value)
			name := path[strings.LastIndex(path, "/")+1:]
			if is.Name != nil {
				name = is.Name.Name
			}
			imports[name] = path
		}
		for name, path := range map[string]string{p.Types.Name(): p.Path} {
			imports[name] = path
		}
		parser := comment.Parser{
			LookupPackage: func(name string) (string, bool) {
				path, ok := imports[name]
				return path, ok
			},
			LookupSym: func(recv, name string) bool { return true }, // checked below
		}
		check := func(cg *ast.CommentGroup) {
			if cg == nil {
				return
			}
			doc := parser.Parse(cg.Text())
			for _, l := range docLinks(doc) {
				pkg := p.Types
				if l.ImportPath != "" && l.ImportPath != p.Path {
					var ok bool
					if pkg, ok = mod[l.ImportPath]; !ok {
						continue
					}
				}
				if l.Name == "" || resolves(pkg, l.Recv, l.Name) {
					continue
				}
				out = append(out, p.Path+": "+linkText(l))
			}
		}
		check(f.Doc)
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GenDecl:
				check(n.Doc)
			case *ast.FuncDecl:
				check(n.Doc)
			case *ast.TypeSpec:
				check(n.Doc)
			case *ast.ValueSpec:
				check(n.Doc)
			case *ast.Field:
				check(n.Doc)
			}
			return true
		})
	}
	return out
}

// resolves reports whether name (or recv.name) is declared in pkg.
func resolves(pkg *types.Package, recv, name string) bool {
	if recv == "" {
		return pkg.Scope().Lookup(name) != nil
	}
	obj := pkg.Scope().Lookup(recv)
	if obj == nil {
		return false
	}
	o, _, _ := types.LookupFieldOrMethod(types.NewPointer(obj.Type()), true, pkg, name)
	return o != nil
}

func linkText(l *comment.DocLink) string {
	s := l.Name
	if l.Recv != "" {
		s = l.Recv + "." + s
	}
	if l.ImportPath != "" {
		s = l.ImportPath + "." + s
	}
	return "[" + s + "]"
}

// docLinks returns every doc link in d.
func docLinks(d *comment.Doc) []*comment.DocLink {
	var out []*comment.DocLink
	var text func([]comment.Text)
	text = func(ts []comment.Text) {
		for _, t := range ts {
			switch t := t.(type) {
			case *comment.DocLink:
				out = append(out, t)
			case *comment.Link:
				text(t.Text)
			case *comment.Italic, comment.Plain:
			}
		}
	}
	for _, b := range d.Content {
		switch b := b.(type) {
		case *comment.Paragraph:
			text(b.Text)
		case *comment.Heading:
			text(b.Text)
		case *comment.List:
			for _, it := range b.Items {
				for _, c := range it.Content {
					if p, ok := c.(*comment.Paragraph); ok {
						text(p.Text)
					}
				}
			}
		}
	}
	return out
}
