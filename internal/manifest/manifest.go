// Package manifest reads the YAML manifest of `exportkit sync`: where the
// store and the files go, and the recurring export jobs, each checked
// against what `exportkit create` takes for its vendor.
//
// A manifest looks like this (every key but jobs, name, vendor and the
// required vendor parameters is optional; the values shown are the
// defaults):
//
//	store: exportkit.db   # the SQLite store, relative to the manifest
//	dir: exports          # a path, file://PATH or s3://BUCKET/PREFIX?…
//	jobs:
//	  - name: logs        # letters, digits, '-' and '_'
//	    vendor: brainbase # brainbase | memsolus | orbit | kore
//	    every: 24h        # a Go duration or Nd, at least 1m
//	    catchup: 7        # missed periods caught up per sync
//	    start: 2026-11-01 # backfill from here (a date or RFC 3339 time)
//	    format: CSV       # vendor parameters, named as create's flags
//
// Everything [Load] refuses is an [*Error] that names the file and line and
// matches exportkit.ErrInvalidInput.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
	"go.yaml.in/yaml/v3"
)

// Defaults of the manifest's optional keys.
const (
	DefaultStore   = "exportkit.db"
	DefaultDir     = "exports"
	DefaultEvery   = 24 * time.Hour
	DefaultCatchup = 7
)

// Limits on what a manifest may say.
const (
	MinEvery   = time.Minute // the shortest period
	MaxCatchup = 10000       // the most missed periods one sync catches up
	MaxName    = 64          // the longest job name
	maxSize    = 1 << 20     // the largest manifest file read
)

// Manifest is a loaded, checked manifest.
type Manifest struct {
	// Path is the manifest file, absolute.
	Path string
	// Store is the SQLite store's path, absolute (relative paths in the
	// file are relative to the manifest's directory).
	Store string
	// Dir is where files go: an absolute local path, or a URL kept as a
	// URL (s3://BUCKET/PREFIX?…, or file:///ABSOLUTE/PATH for file://).
	Dir string
	// Jobs are the manifest's jobs, in file order, with unique names.
	Jobs []Job
}

// Job is one recurring export.
type Job struct {
	// Name is unique in the manifest: letters, digits, '-' and '_'.
	Name string
	// Vendor is brainbase, memsolus, orbit or kore (exportkit.Vendor's
	// values).
	Vendor string
	// Every is the period: one run per period, periods aligned to UTC
	// multiples of Every. At least [MinEvery].
	Every time.Duration
	// Catchup is how many missed periods one sync catches up at most; 0
	// catches up none.
	Catchup int
	// Start is when to backfill from, or zero: a new job then starts with
	// the period containing now.
	Start time.Time
	// Params are the vendor's parameters, keyed as `exportkit create`
	// names its flags (format, log-type, worker, deployment for Brainbase;
	// format, user, agent, session, priority, category for Memsolus;
	// audience for Orbit; bot and type for Kore), in the vendor's spelling
	// (format CSV or JSON for Brainbase, json, csv or markdown for
	// Memsolus; priority upper case). A Memsolus category list is joined
	// with commas.
	Params map[string]string
	// Line is the line of the job's entry in the manifest.
	Line int
}

// Error is a manifest that cannot be used: the file, the line (0 when the
// problem is the whole file) and what is wrong. It matches
// exportkit.ErrInvalidInput.
type Error struct {
	File string
	Line int
	Msg  string
}

// Error is "exportkit: FILE:LINE: what is wrong".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("exportkit: %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("exportkit: %s: %s", e.File, e.Msg)
}

// Unwrap returns exportkit.ErrInvalidInput.
func (e *Error) Unwrap() error { return exportkit.ErrInvalidInput }

// Load reads and checks the manifest at path. A file that cannot be read is
// an error wrapping the os error (errors.Is(err, fs.ErrNotExist) for a
// missing one); anything wrong inside it is an [*Error] naming the line.
func Load(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("exportkit: read manifest: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("exportkit: read manifest: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("exportkit: read manifest: %w", err)
	}
	if len(b) > maxSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d bytes", maxSize)}
	}
	return parse(path, abs, b)
}

// parser checks one manifest; file is the path as the caller gave it, for
// messages.
type parser struct {
	file string
	dir  string // the manifest's directory, absolute
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// parse checks the manifest bytes b of the file at abs.
func parse(file, abs string, b []byte) (*Manifest, error) {
	p := &parser{file: file, dir: filepath.Dir(abs)}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "empty manifest: it needs jobs:"}
		}
		return nil, p.yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, p.errorf(&extra, "a second YAML document: a manifest is one document")
	} else if !errors.Is(err, io.EOF) {
		return nil, p.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	root = deref(root)
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, "want a mapping with store, dir and jobs, not %s", kindName(root))
	}
	m := &Manifest{Path: abs, Store: filepath.Join(p.dir, DefaultStore), Dir: filepath.Join(p.dir, DefaultDir)}
	var jobs *yaml.Node
	err := p.eachKey(root, func(key string, k, v *yaml.Node) error {
		var err error
		switch key {
		case "store":
			m.Store, err = p.store(v)
		case "dir":
			m.Dir, err = p.destDir(v)
		case "jobs":
			jobs = v
		default:
			return p.errorf(k, "unknown key %q (want store, dir or jobs)%s", key, suggest(key, []string{"store", "dir", "jobs"}))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if jobs == nil {
		return nil, p.errorf(root, "no jobs: the manifest needs a jobs: list")
	}
	if m.Jobs, err = p.jobs(jobs); err != nil {
		return nil, err
	}
	return m, nil
}

// yamlError turns a YAML syntax error into an *Error with its line.
func (p *parser) yamlError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, tail
			}
		}
	}
	return &Error{File: p.file, Line: line, Msg: "not valid YAML: " + msg}
}

// eachKey calls f for every key of mapping n in order, refusing a key that
// is not a plain string, a merge key and a key given twice.
func (p *parser) eachKey(n *yaml.Node, f func(key string, k, v *yaml.Node) error) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			return p.errorf(k, "a key must be a plain word")
		}
		if first, dup := seen[k.Value]; dup {
			return p.errorf(k, "key %q given twice (first on line %d)", k.Value, first)
		}
		seen[k.Value] = k.Line
		if err := f(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "this"
}

// scalar is the text of a scalar value, refusing lists, mappings and
// empty values.
func (p *parser) scalar(key string, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || strings.TrimSpace(v.Value) == "" {
		return "", p.errorf(v, "%s: want a value, not %s", key, kindName(v))
	}
	return strings.TrimSpace(v.Value), nil
}

// store is the store key: a local path, resolved.
func (p *parser) store(v *yaml.Node) (string, error) {
	s, err := p.scalar("store", v)
	if err != nil {
		return "", err
	}
	if strings.Contains(s, "://") {
		return "", p.errorf(v, "store: want a local file path for the SQLite store, not a URL")
	}
	return p.resolve(s), nil
}

func (p *parser) resolve(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(p.dir, path)
}

// s3Params are the query parameters an s3:// dir may carry (those of
// gocloud.dev's s3blob URLs that exportkit reads).
var s3Params = []string{"endpoint", "region", "use_path_style", "disable_https"}

// destDir is the dir key: a local path resolved, file:// with the path
// resolved, or s3://BUCKET/PREFIX kept as given.
func (p *parser) destDir(v *yaml.Node) (string, error) {
	s, err := p.scalar("dir", v)
	if err != nil {
		return "", err
	}
	scheme, rest, isURL := strings.Cut(s, "://")
	if !isURL {
		return p.resolve(s), nil
	}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return "", p.errorf(v, "dir: file:// needs a path")
		}
		return "file://" + filepath.ToSlash(p.resolve(filepath.FromSlash(rest))), nil
	case "s3":
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", p.errorf(v, "dir: want s3://BUCKET/PREFIX")
		}
		for k := range u.Query() {
			if !slices.Contains(s3Params, k) {
				return "", p.errorf(v, "dir: unknown s3 URL parameter %q (want %s)", k, strings.Join(s3Params, ", "))
			}
		}
		return s, nil
	}
	return "", p.errorf(v, "dir: scheme %q is not supported (want a path, file://PATH or s3://BUCKET/PREFIX)", scheme)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// jobs checks the jobs list.
func (p *parser) jobs(n *yaml.Node) ([]Job, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, "jobs: want a list of jobs, not %s", kindName(n))
	}
	if len(n.Content) == 0 {
		return nil, p.errorf(n, "jobs: the list is empty")
	}
	names := map[string]int{}
	out := make([]Job, 0, len(n.Content))
	for _, item := range n.Content {
		j, err := p.job(deref(item))
		if err != nil {
			return nil, err
		}
		folded := strings.ToLower(j.Name)
		if first, dup := names[folded]; dup {
			return nil, p.errorf(item, "duplicate job name %q (first on line %d; names differing only in case count as the same)", j.Name, first)
		}
		names[folded] = j.Line
		out = append(out, j)
	}
	return out, nil
}

// jobKeys are the keys every job takes, besides its vendor's parameters.
var jobKeys = []string{"name", "vendor", "every", "catchup", "start"}

// job checks one job entry.
func (p *parser) job(n *yaml.Node) (Job, error) {
	j := Job{Every: DefaultEvery, Catchup: DefaultCatchup, Params: map[string]string{}, Line: n.Line}
	if n.Kind != yaml.MappingNode {
		return j, p.errorf(n, "a job must be a mapping with name and vendor, not %s", kindName(n))
	}
	// The vendor decides which parameters are allowed: read it first.
	var vendorNode, nameNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "vendor":
			vendorNode = deref(n.Content[i+1])
		case "name":
			nameNode = deref(n.Content[i+1])
		}
	}
	if nameNode == nil {
		return j, p.errorf(n, "job: missing name")
	}
	name, err := p.scalar("name", nameNode)
	if err != nil {
		return j, err
	}
	if !nameRE.MatchString(name) || len(name) > MaxName {
		return j, p.errorf(nameNode, "name %q: use at most %d letters, digits, '-' and '_'", name, MaxName)
	}
	j.Name = name
	if vendorNode == nil {
		return j, p.errorf(n, "job %q: missing vendor (brainbase, memsolus, orbit or kore)", name)
	}
	vendor, err := p.scalar("vendor", vendorNode)
	if err != nil {
		return j, err
	}
	spec, ok := vendorParams[exportkit.Vendor(vendor)]
	if !ok {
		return j, p.errorf(vendorNode, "job %q: unknown vendor %q (want brainbase, memsolus, orbit or kore)", name, vendor)
	}
	j.Vendor = vendor
	err = p.eachKey(n, func(key string, k, v *yaml.Node) error {
		switch key {
		case "name", "vendor":
			return nil
		case "every":
			return p.every(&j, v)
		case "catchup":
			return p.catchup(&j, v)
		case "start":
			return p.start(&j, v)
		}
		ps, ok := spec[key]
		if !ok {
			return p.errorf(k, "job %q: %s", name, unknownParam(j.Vendor, key))
		}
		val, err := ps.read(p, key, v)
		if err != nil {
			return err
		}
		if val, err = ps.check(val); err != nil {
			return p.errorf(v, "job %q: %s: %v", name, key, err)
		}
		j.Params[key] = val
		return nil
	})
	if err != nil {
		return j, err
	}
	for key, ps := range spec {
		if ps.required && j.Params[key] == "" {
			return j, p.errorf(n, "job %q: %s needs %s: (%s)", name, vendor, key, ps.help)
		}
	}
	return j, nil
}

// every reads a period: a Go duration or Nd.
func (p *parser) every(j *Job, v *yaml.Node) error {
	s, err := p.scalar("every", v)
	if err != nil {
		return err
	}
	d, err := parsePeriod(s)
	if err != nil {
		return p.errorf(v, "job %q: every %q: %v", j.Name, s, err)
	}
	j.Every = d
	return nil
}

// maxDays keeps N*24h inside a time.Duration.
const maxDays = int64(1<<63-1) / int64(24*time.Hour)

// parsePeriod reads a Go duration (90m, 24h) or a number of days (7d).
func parsePeriod(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && strings.Trim(days, "0123456789") == "" {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > maxDays {
			return 0, errors.New("too long")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New("want a Go duration such as 30m or 24h, or days such as 7d")
		}
	}
	if d < MinEvery {
		return 0, fmt.Errorf("want a period of at least %s", "1m")
	}
	return d, nil
}

// catchup reads a count of periods.
func (p *parser) catchup(j *Job, v *yaml.Node) error {
	s, err := p.scalar("catchup", v)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > MaxCatchup {
		return p.errorf(v, "job %q: catchup %q: want a whole number from 0 to %d", j.Name, s, MaxCatchup)
	}
	j.Catchup = n
	return nil
}

// start reads a date (UTC midnight) or an RFC 3339 time.
func (p *parser) start(j *Job, v *yaml.Node) error {
	s, err := p.scalar("start", v)
	if err != nil {
		return err
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 2000 {
				return p.errorf(v, "job %q: start %q: before the year 2000", j.Name, s)
			}
			j.Start = t.UTC()
			return nil
		}
	}
	return p.errorf(v, "job %q: start %q: want a date such as 2026-11-01 or an RFC 3339 time such as 2026-11-01T06:00:00Z", j.Name, s)
}
