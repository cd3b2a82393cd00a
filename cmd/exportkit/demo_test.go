package main

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoOneTruth: the demo, as a newcomer runs it, ends as scripted in
// well under a minute; the live lines, the table and --json say the same
// about each flow (verified or not, and by whom), the table shows whole
// ids, and the request counts come from the fake server's request log.
func TestDemoOneTruth(t *testing.T) {
	t.Parallel()
	start := time.Now()
	text := runWith(t, nil, "demo").must(t, exitOK)
	for _, want := range []string{"VENDOR", "EXPORT ID", "SHA-1", "VERIFIED", "brainbase", "memsolus", "orbit", "kore",
		"failed", demoFailCode, "resumed 1×", "429 Retry-After", "All 5 flows ended as scripted", "Polling every"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text.stdout)
		}
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("demo took %s, want well under a minute", took)
	}
	js := runWith(t, nil, "demo", "--json", "-q").must(t, exitOK)
	var flows []struct {
		Vendor, ID, State string
		Verified          bool
		VerifiedBy        string  `json:"verified_by"`
		ReadySeconds      float64 `json:"ready_seconds"`
		Requests          int
		AsScripted        bool `json:"as_scripted"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &flows); err != nil || len(flows) != 5 {
		t.Fatalf("demo --json: %v\n%s", err, js.stdout)
	}
	want := map[string]string{"brainbase": "yes", "memsolus": "by demo", "kore": "yes"}
	for _, f := range flows {
		if w, ok := want[f.Vendor]; ok && (f.Verified != (w == "yes") || f.VerifiedBy != map[string]string{"yes": "exportkit", "by demo": "demo"}[w]) {
			t.Errorf("demo --json: %s verified %v by %q, want the table's %q", f.Vendor, f.Verified, f.VerifiedBy, w)
		}
		if r := f.ReadySeconds * 10; math.Abs(r-math.Round(r)) > 1e-9 {
			t.Errorf("demo --json: %s ready_seconds %v, want tenths", f.Vendor, f.ReadySeconds)
		}
		if f.Requests < 2 {
			t.Errorf("demo --json: %s made %d requests, by the server's log", f.Vendor, f.Requests)
		}
	}

	// The table: whole ids, the same word as --json.
	rows := map[string][]string{}
	for _, l := range strings.Split(text.stdout, "\n") {
		if fs := strings.Fields(l); len(fs) > 8 && want[fs[0]] != "" {
			rows[fs[0]] = fs
		}
	}
	idRE := regexp.MustCompile(`^[A-Za-z0-9_-]{20,}$`)
	for v, w := range want {
		row := rows[v]
		if row == nil {
			t.Fatalf("no table row for %s:\n%s", v, text.stdout)
		}
		if !idRE.MatchString(row[1]) {
			t.Errorf("%s: id %q is cut", v, row[1])
		}
		if got := verifiedColumn(row); got != w {
			t.Errorf("%s: table says verified %q, want %q", v, got, w)
		}
	}
	// The live lines (stderr, plain lines: not a terminal).
	for _, l := range strings.Split(text.stderr, "\n") {
		name, rest, _ := strings.Cut(l, ": ")
		if !strings.HasPrefix(rest, "ready in ") {
			continue
		}
		switch w := want[name]; {
		case w == "by demo" && !strings.Contains(rest, "verified by demo"):
			t.Errorf("live line %q: the table says %q", l, w)
		case w == "yes" && (!strings.HasSuffix(rest, ", verified")):
			t.Errorf("live line %q: the table says %q", l, w)
		}
	}
}

// verifiedColumn is the VERIFIED column of a table row split into fields
// ("by demo" is two).
func verifiedColumn(row []string) string {
	// VENDOR ID STATE POLLS REQUESTS READY BYTES SHA-1 VERIFIED NOTES…
	if row[8] == "by" {
		return "by demo"
	}
	return row[8]
}
