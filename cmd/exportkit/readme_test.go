package main

import (
	"flag"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestREADMEAgreesWithHelp: the README's section on the command and the
// help say the same: every command of the table is in the README, every
// flag the README names is one a command takes, and the error kinds are
// the same list.
func TestREADMEAgreesWithHelp(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## The `exportkit` command")
	end := strings.Index(readme, "## Configuration")
	if start < 0 || end < start {
		t.Fatal("README has no section on the command")
	}
	section := readme[start:end]

	flags := map[string]bool{}
	for _, c := range commands {
		fs, _ := c.flagSet()
		if !c.hidden && !strings.Contains(section, "| `"+c.name) {
			t.Errorf("the README's command table lacks %s", c.name)
		}
		for _, name := range flagNames(fs) {
			flags[name] = true
		}
	}
	for _, m := range regexp.MustCompile("`(--?[a-z][a-z0-9-]*)").FindAllStringSubmatch(section, -1) {
		if name := strings.TrimLeft(m[1], "-"); !flags[name] {
			t.Errorf("the README names %s, which no command takes", m[1])
		}
	}

	i := strings.Index(section, "`kind` says what went wrong:")
	j := strings.Index(section[i:], "`code` is")
	if i < 0 || j < 0 {
		t.Fatal("the README does not list the error kinds")
	}
	var inREADME []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(section[i:i+j], -1) {
		if m[1] != "kind" && !contains(inREADME, m[1]) {
			inREADME = append(inREADME, m[1])
		}
	}
	inHelp := strings.FieldsFunc(strings.ReplaceAll(kindsText, " or ", ", "), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\n'
	})
	sort.Strings(inREADME)
	sort.Strings(inHelp)
	if strings.Join(inREADME, " ") != strings.Join(inHelp, " ") {
		t.Errorf("error kinds differ:\nREADME %v\nhelp   %v", inREADME, inHelp)
	}
	for _, k := range errorKinds {
		if !strings.Contains(kindsText, k.kind) {
			t.Errorf("the help does not list the kind %s", k.kind)
		}
	}
}

// flagNames lists the names of the flags of fs.
func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}
