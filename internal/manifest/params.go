package manifest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/exportkit/exportkit"
	"go.yaml.in/yaml/v3"
)

// param is one vendor parameter of a job, named as `exportkit create`
// names its flag (or, for the id create takes as an argument, audience and
// bot).
type param struct {
	required bool
	list     bool   // a YAML list is allowed too; it is joined with commas
	help     string // what the value is
	check    func(string) (string, error)
}

// oneOf accepts one of values in any case and returns it as spelled there.
func oneOf(values ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		for _, v := range values {
			if strings.EqualFold(s, v) {
				return v, nil
			}
		}
		return "", fmt.Errorf("%q is not %s", s, orList(values))
	}
}

func orList(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// anyID accepts an id without spaces or control characters.
func anyID(s string) (string, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("%q contains a space or a control character", s)
	}
	return s, nil
}

// pathID is anyID that also refuses '/', which `exportkit create orbit`
// reads as AUDIENCE/RUN.
func pathID(s string) (string, error) {
	if strings.Contains(s, "/") {
		return "", fmt.Errorf("%q contains '/'", s)
	}
	return anyID(s)
}

// categories checks a comma-joined Memsolus category list.
func categories(s string) (string, error) {
	parts := strings.Split(s, ",")
	if len(parts) > exportkit.MaxMemoryCategories {
		return "", fmt.Errorf("%d categories, at most %d allowed", len(parts), exportkit.MaxMemoryCategories)
	}
	for _, c := range parts {
		if strings.TrimSpace(c) == "" {
			return "", errors.New("an empty category")
		}
	}
	return s, nil
}

// vendorParams are the parameters each vendor's jobs take: the flags
// `exportkit create VENDOR` takes, less those a sync sets itself (since and
// until come from the job's period; Orbit's idempotency key from the run's
// stored intent), plus the id create takes as its argument.
var vendorParams = map[exportkit.Vendor]map[string]param{
	exportkit.Brainbase: {
		"format":     {help: "CSV or JSON", check: oneOf("CSV", "JSON")},
		"log-type":   {help: "a log type such as VoiceDeploymentLog", check: anyID},
		"worker":     {help: "a worker id", check: anyID},
		"deployment": {help: "a deployment id", check: anyID},
	},
	exportkit.Memsolus: {
		"format":   {help: "json, csv or markdown", check: oneOf("json", "csv", "markdown")},
		"user":     {help: "a user id", check: anyID},
		"agent":    {help: "an agent id", check: anyID},
		"session":  {help: "a session id", check: anyID},
		"priority": {help: "LOW, MEDIUM or HIGH", check: oneOf("LOW", "MEDIUM", "HIGH")},
		"category": {list: true, help: "a category, or a list of at most 20", check: categories},
	},
	exportkit.Orbit: {
		"audience": {required: true, help: "the audience id to snapshot", check: pathID},
	},
	exportkit.Kore: {
		"bot":  {required: true, help: "the bot id to export", check: pathID},
		"type": {help: "latest or published", check: oneOf("latest", "published")},
	},
}

// read is the text of a parameter's value; a list parameter may be a YAML
// list of scalars, returned comma-joined.
func (ps param) read(p *parser, key string, v *yaml.Node) (string, error) {
	if !ps.list || v.Kind != yaml.SequenceNode {
		return p.scalar(key, v)
	}
	if len(v.Content) == 0 {
		return "", p.errorf(v, "%s: an empty list", key)
	}
	items := make([]string, 0, len(v.Content))
	for _, item := range v.Content {
		s, err := p.scalar(key, deref(item))
		if err != nil {
			return "", err
		}
		if strings.Contains(s, ",") {
			return "", p.errorf(item, "%s: %q contains a comma", key, s)
		}
		items = append(items, s)
	}
	return strings.Join(items, ","), nil
}

// paramNames are the parameter names of vendor v, sorted.
func paramNames(v exportkit.Vendor) []string {
	var out []string
	for k := range vendorParams[v] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unknownParam says why key is not a parameter of vendor v.
func unknownParam(v string, key string) string {
	switch key {
	case "since", "until":
		return fmt.Sprintf("%s is set by sync: each run's window is its period (set every, and start to backfill)", key)
	case "idempotency-key":
		return "idempotency-key is set by sync: each run's key comes from its stored intent"
	}
	own := paramNames(exportkit.Vendor(v))
	for _, other := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Memsolus, exportkit.Orbit, exportkit.Kore} {
		if string(other) != v && slices.Contains(paramNames(other), key) {
			return fmt.Sprintf("%s is a %s parameter, not one of %s's (%s)", key, other, v, strings.Join(own, ", "))
		}
	}
	all := append(append([]string{}, jobKeys...), own...)
	return fmt.Sprintf("unknown key %q (want %s)%s", key, strings.Join(all, ", "), suggest(key, all))
}

// suggest is " (did you mean X?)" for the candidate closest to key, when it
// is close, or "".
func suggest(key string, candidates []string) string {
	best, dist := "", 3
	for _, c := range candidates {
		if d := distance(strings.ToLower(key), c); d < dist {
			best, dist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
