// Package doccheck holds a test that every exported identifier of the
// packages users import has a doc comment that starts with its name, as
// go doc and pkg.go.dev show it.
package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// packages are the directories users import, relative to this one.
var packages = []string{"../..", "../../exporttest", "../../exporttemporal", "../../exportjob"}

func TestDocComments(t *testing.T) {
	for _, dir := range packages {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range missing(f) {
				t.Errorf("%s: %s", fset.Position(m.pos), m.msg)
			}
		}
	}
}

type problem struct {
	pos token.Pos
	msg string
}

// missing lists the exported identifiers of f without a proper doc comment.
func missing(f *ast.File) []problem {
	var out []problem
	check := func(pos token.Pos, name string, doc *ast.CommentGroup) {
		switch {
		case doc == nil:
			out = append(out, problem{pos, name + " has no doc comment"})
		case !startsWithName(doc.Text(), name):
			first, _, _ := strings.Cut(doc.Text(), "\n")
			out = append(out, problem{pos, "the doc comment of " + name + " does not start with its name: " + first})
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || (d.Recv != nil && !exportedReceiver(d.Recv)) {
				continue
			}
			check(d.Pos(), d.Name.Name, d.Doc)
		case *ast.GenDecl:
			// A comment on a parenthesized group of constants or variables
			// documents the group, as go doc shows it.
			grouped := d.Lparen.IsValid() && d.Doc != nil && d.Tok != token.TYPE
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() {
						doc := s.Doc
						if doc == nil && !d.Lparen.IsValid() {
							doc = d.Doc
						}
						check(s.Pos(), s.Name.Name, doc)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if !n.IsExported() || grouped {
							continue
						}
						doc := s.Doc
						if doc == nil && !d.Lparen.IsValid() {
							doc = d.Doc
						}
						if doc == nil && s.Comment != nil {
							continue // a line comment beside a value in a group
						}
						check(n.Pos(), n.Name, doc)
					}
				}
			}
		}
	}
	return out
}

// startsWithName allows the name to follow an article: "A Fault is …".
func startsWithName(text, name string) bool {
	for _, prefix := range []string{"", "A ", "An ", "The "} {
		rest, ok := strings.CutPrefix(text, prefix+name)
		if ok && (rest == "" || !isIdentChar(rest[0])) {
			return true
		}
	}
	return false
}

func isIdentChar(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// exportedReceiver reports whether a method's receiver type is exported:
// methods of unexported types are not in the documentation.
func exportedReceiver(recv *ast.FieldList) bool {
	if len(recv.List) == 0 {
		return false
	}
	t := recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch t := t.(type) {
	case *ast.IndexExpr: // generic receiver T[P]
		return ast.IsExported(t.X.(*ast.Ident).Name)
	case *ast.IndexListExpr:
		return ast.IsExported(t.X.(*ast.Ident).Name)
	case *ast.Ident:
		return t.IsExported()
	}
	return false
}

// TestMissingFindsProblems keeps the check honest: it must see what it is
// there to see.
func TestMissingFindsProblems(t *testing.T) {
	const src = `package p

func Undocumented() {}

// does things.
func Misnamed() {}

// Fine does things.
func Fine() {}

// A Thing is fine too.
type Thing struct{}

func (Thing) Method() {}

type hidden struct{}

func (hidden) Method() {}

// Grouped values share the group's comment.
const (
	One = 1
	Two = 2
)

const Lone = 3
`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range missing(f) {
		got = append(got, m.msg)
	}
	want := []string{
		"Undocumented has no doc comment",
		"the doc comment of Misnamed does not start with its name: does things.",
		"Method has no doc comment",
		"Lone has no doc comment",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("missing found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
