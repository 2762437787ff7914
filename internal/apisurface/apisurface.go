// Package apisurface lists the exported API of a Go package from its
// source, for tests that keep a public package's surface deliberate: the
// list is compared with a reviewed golden file, and every exported name
// must have a doc comment that starts with it.
package apisurface

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Names returns the exported top-level names of the package in dir
// (non-test files), one per line as "const X", "var X", "func F",
// "type T" or "method T.M", sorted, and the names among them whose doc
// comment does not start with the name.
func Names(dir string) (names, undocumented []string, err error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, nil, err
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return nil, nil, err
		}
		add := func(kind, name string, docs ...*ast.CommentGroup) {
			names = append(names, kind+" "+name)
			short := name[strings.LastIndexByte(name, '.')+1:]
			for _, d := range docs {
				if d != nil && strings.HasPrefix(d.Text(), short+" ") {
					return
				}
			}
			undocumented = append(undocumented, kind+" "+name)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					add("func", d.Name.Name, d.Doc)
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
					add("method", id.Name+"."+d.Name.Name, d.Doc)
				}
			case *ast.GenDecl:
				// A lone spec may carry its doc on the declaration.
				var declDoc *ast.CommentGroup
				if len(d.Specs) == 1 {
					declDoc = d.Doc
				}
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							add("type", s.Name.Name, s.Doc, declDoc)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								add(d.Tok.String(), n.Name, s.Doc, declDoc)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(names)
	slices.Sort(undocumented)
	return names, undocumented, nil
}

// Check fails t unless the exported names of the package in dir are the
// lines of golden (rewritten instead when update is true) and each has a
// doc comment starting with its name.
func Check(t testing.TB, dir, golden string, update bool) {
	t.Helper()
	names, undocumented, err := Names(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range undocumented {
		t.Errorf("%s: no doc comment starting with its name", n)
	}
	got := strings.Join(names, "\n") + "\n"
	if update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("exported API differs from %s (review, then go test -run TestAPI -update):\n%s", golden, diff(string(want), got))
	}
}

// diff lists the lines only in want (-) or only in got (+).
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if l != "" && !slices.Contains(g, l) {
			fmt.Fprintf(&b, "-%s\n", l)
		}
	}
	for _, l := range g {
		if l != "" && !slices.Contains(w, l) {
			fmt.Fprintf(&b, "+%s\n", l)
		}
	}
	return b.String()
}
