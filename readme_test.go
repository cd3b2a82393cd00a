package exportkit_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goBlock is a fenced Go code block of a Markdown file.
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// normalize makes code comparable whatever its indentation and the
// alignment of its comments: every run of white space becomes one space.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestREADMESnippets: every Go snippet of README.md appears, word for
// word, in an example file of this package, where it compiles (and, for
// some, runs against exporttest): the README cannot show code that does
// not build. The snippets live in readme_example_test.go.
func TestREADMESnippets(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*example*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example files: %v", err)
	}
	// The nested module's examples: read here, compiled there.
	nested, err := filepath.Glob(filepath.Join("exporttemporal", "*example*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, nested...)
	// s3dest's examples, which import the AWS SDK this package does not.
	s3, err := filepath.Glob(filepath.Join("s3dest", "*example*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, s3...)
	var examples []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		examples = append(examples, normalize(string(b)))
	}
	blocks := goBlock.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 4 {
		t.Fatalf("found %d Go snippets in README.md, want at least 4", len(blocks))
	}
	for i, m := range blocks {
		snippet := normalize(m[1])
		found := false
		for _, ex := range examples {
			found = found || strings.Contains(ex, snippet)
		}
		if !found {
			t.Errorf("README.md Go snippet %d is in no example file (put it in readme_example_test.go):\n%s", i+1, m[1])
		}
	}
}

// TestREADMESaysItInItsOwnWords: the README does not send its reader to
// documents that are not in the repository (a quality checklist's item
// numbers, issue numbers).
func TestREADMESaysItInItsOwnWords(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`QUALITY(\.md)?|[Ii]ssue \d+|item \d+`).FindAllString(string(readme), -1) {
		t.Errorf("README.md cites %q, which is not in the repository", m)
	}
}
