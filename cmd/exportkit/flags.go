package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/s3dest"
)

// This file holds the flag types every command shares, the flags of the
// vendor commands, and parseFlags, which every command parses with.

// cmdOpts are the flags of the vendor commands. The shared ones are
// registered by registerCommon; each command registers its own besides.
type cmdOpts struct {
	json, quiet, force bool
	sha1               bool
	showURL            bool
	noResume           bool
	connections        countFlag
	partSize           sizeFlag
	baseURL            string
	timeout            timeoutFlag
	poll               pollFlag
	output             string
	limit              countFlag
	// dest is the s3:// output's destination, built (its AWS configuration
	// read) when the output was checked, and used for the delivery.
	dest *s3dest.Destination

	// create
	format, logType, worker, deployment string
	user, agent, session, priority      string
	since, until                        timeFlag
	categories                          listFlag
	koreType, idempotencyKey            string
}

// registerCommon adds the flags every vendor command takes to fs. The
// usage strings are what "exportkit help CMD" prints: a word in
// backquotes names the flag's argument.
func (o *cmdOpts) registerCommon(fs *flag.FlagSet) {
	fs.BoolVar(&o.json, "json", false, "machine-readable output on stdout, and errors as JSON on stderr")
	fs.BoolVar(&o.quiet, "quiet", false, "no status or progress lines on stderr")
	fs.BoolVar(&o.quiet, "q", false, "no status or progress lines on stderr")
	fs.StringVar(&o.baseURL, "base-url", "", "the vendor API's base `URL` (default: the SDK's, or the vendor's "+
		"*_BASE_URL or KORE_HOST variable); without a scheme, http for localhost and https otherwise")
	fs.Var(&o.timeout, "timeout", "give up after this long (exit 5): a positive `DURATION` "+
		"such as 90s or 30m, one deadline for the whole command (a download's transfer included); no limit without it")
}

// registerPoll adds --poll-interval, for the commands that poll.
func (o *cmdOpts) registerPoll(fs *flag.FlagSet) {
	fs.Var(&o.poll, "poll-interval", "delay between status reads: `MIN[,MAX]` such as 5s,30s, "+
		"the delay growing from MIN to MAX (default 2s,15s)")
}

// registerShowURL adds --show-url, for the commands that print exports.
func (o *cmdOpts) registerShowURL(fs *flag.FlagSet) {
	fs.BoolVar(&o.showURL, "show-url", false, "print download URLs whole, signature included (default: query values REDACTED)")
}

var commonFlags = []string{"json", "quiet", "q", "base-url", "timeout"}

// timeoutFlag is --timeout: a positive duration, and the text it was given
// as, which messages repeat ("timed out after 30m", not "30m0s"). Zero or a
// negative duration is refused rather than read as "no limit", which
// leaving the flag out says.
type timeoutFlag struct {
	d    time.Duration
	text string
}

func (t *timeoutFlag) String() string { return t.text }

func (t *timeoutFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("want a duration such as 90s or 30m")
	case d <= 0:
		return errors.New("want a positive duration such as 90s or 30m; leave --timeout out to wait without limit")
	}
	t.d, t.text = d, s
	return nil
}

// pollFlag is --poll-interval MIN[,MAX].
type pollFlag struct{ min, max time.Duration }

func (p *pollFlag) String() string {
	if p.min == 0 {
		return ""
	}
	return p.min.String() + "," + p.max.String()
}

func (p *pollFlag) Set(s string) error {
	lo, hi, found := strings.Cut(s, ",")
	min, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil || min <= 0 {
		return fmt.Errorf("want a positive duration such as 2s, or MIN,MAX")
	}
	max := min
	if found {
		if max, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil || max < min {
			return fmt.Errorf("want MAX at least MIN, such as 2s,15s")
		}
	} else {
		max = exportkit.DefaultPollMax
	}
	p.min, p.max = min, max
	return nil
}

// timeFlag is a time given as RFC 3339 or as a date (2006-01-02, UTC).
type timeFlag struct{ t *time.Time }

func (f *timeFlag) String() string {
	if f.t == nil {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			f.t = &t
			return nil
		}
	}
	return fmt.Errorf("want a date (2025-01-31) or an RFC 3339 time")
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// countFlag is a count that must be at least 1: --connections, --limit.
// Zero is refused rather than read as "the default", which leaving the
// flag out says.
type countFlag struct {
	n   int
	set bool
}

func (f *countFlag) String() string {
	if !f.set {
		return ""
	}
	return strconv.Itoa(f.n)
}

func (f *countFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return errors.New("want a whole number, at least 1 (leave the flag out for the default)")
	}
	f.n, f.set = n, true
	return nil
}

// sizeFlag is a byte count of at least minSize: plain bytes, or a number
// (decimals allowed) with a binary unit, KiB, MiB or GiB (K, M and G for
// short), in any case. KB, MB and GB are refused with the spelling to
// use: whether they mean 1000 or 1024 is a guess.
type sizeFlag struct {
	n   int64
	set bool
}

// minSize is the least --part-size, the SDK's least part size.
const minSize = 64 << 10

func (f *sizeFlag) String() string {
	if !f.set {
		return ""
	}
	return strconv.FormatInt(f.n, 10)
}

// sizeUnits are the units a size takes, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}}

func (f *sizeFlag) Set(s string) error {
	num, unit := strings.TrimSpace(s), ""
	if i := strings.IndexFunc(num, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
		num, unit = strings.TrimSpace(num[:i]), strings.ToLower(strings.TrimSpace(num[i:]))
	}
	mult := int64(-1)
	for _, u := range sizeUnits {
		if unit == u.suffix {
			mult = u.mult
		}
	}
	switch {
	case unit == "":
		mult = 1
	case unit == "kb" || unit == "mb" || unit == "gb":
		bin := strings.ToUpper(unit[:1]) + "iB"
		return fmt.Errorf("ambiguous (1000 or 1024?): write %s%s", num, bin)
	case mult < 0:
		return errors.New("not a size: write plain bytes or a number with KiB, MiB or GiB, such as 8MiB")
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<50 {
		return errors.New("not a size: write plain bytes or a number with KiB, MiB or GiB, such as 8MiB")
	}
	n := v * float64(mult)
	if n != float64(int64(n)) {
		return fmt.Errorf("not a whole number of bytes (%.1f)", n)
	}
	if n < minSize {
		return errors.New("at least 64KiB")
	}
	f.n, f.set = int64(n), true
	return nil
}

// dashed is a flag's name as the docs write it: --name, or -x for one
// letter.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// parseFlags parses args with fs, allowing flags after positional
// arguments ("exportkit download brainbase ID -o out.csv"), and returns the
// positional ones. A flag error is a usage error that names the flag as
// the docs do (--timeout, not -timeout); -h prints the command's usage.
// A flag that takes a value never takes the next flag as it ("-o
// --base-url X" is an error, not a file named --base-url).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	if err := checkFlagValues(fs, args); err != nil {
		return nil, err
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeCommandUsage(stdout, fs)
				return nil, errHelp
			}
			msg := flagError(err)
			if msg == "unknown flag --poll-interval" {
				msg += " (" + fs.Name() + " reads once: only wait and download poll)"
			}
			return nil, usageErrorf("%s: %s", fs.Name(), msg)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, checkEmptyValues(fs)
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// checkFlagValues refuses a flag that takes a value whose value is the
// next flag: "-o --base-url X", "--base-url -q".
func checkFlagValues(fs *flag.FlagSet, args []string) error {
	for i := 0; i < len(args)-1; i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		name, ok := flagArg(a)
		if !ok || strings.Contains(a, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil || isBoolFlag(f) {
			continue
		}
		if next, ok := flagArg(args[i+1]); ok && (fs.Lookup(next) != nil || next == "h" || next == "help" || strings.HasPrefix(args[i+1], "--")) {
			return usageErrorf("%s: flag %s needs a value, got the flag %s (quote a value that starts with -, as %s=%s)",
				fs.Name(), dashed(name), args[i+1], dashed(name), args[i+1])
		}
		i++ // the value
	}
	return nil
}

// checkEmptyValues refuses a flag given an empty value ("--base-url ”",
// an unset variable): it would mean the default, which leaving the flag
// out says, and a script that meant something else would not notice.
func checkEmptyValues(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err == nil && !isBoolFlag(f) && strings.TrimSpace(f.Value.String()) == "" {
			err = usageErrorf("%s: flag %s has an empty value (leave it out for the default)", fs.Name(), dashed(f.Name))
		}
	})
	return err
}

// flagArg returns the name of the flag arg is ("-o", "--base-url=x"), or
// false when it is not a flag ("-" is stdout, "--" ends the flags).
func flagArg(arg string) (string, bool) {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return "", false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	return name, name != ""
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// flagMessages are the messages of package flag, to say again with the
// flag named as the docs name it.
var flagMessages = []struct {
	re   *regexp.Regexp
	with func(m []string) string
}{
	{regexp.MustCompile(`^flag provided but not defined: -+(.+)$`), func(m []string) string {
		return "unknown flag " + dashed(m[1])
	}},
	{regexp.MustCompile(`^flag needs an argument: -+(.+)$`), func(m []string) string {
		return "flag " + dashed(m[1]) + " needs a value"
	}},
	{regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-+([^:]+): (.*)$`), func(m []string) string {
		v, err := strconv.Unquote(m[1])
		if err != nil {
			v = m[1]
		}
		return dashed(m[2]) + " " + v + ": " + m[3]
	}},
	{regexp.MustCompile(`^bad flag syntax: (.*)$`), func(m []string) string {
		return "bad flag syntax: " + m[1]
	}},
}

// flagError says err of package flag with the flag's name as the docs
// write it.
func flagError(err error) string {
	s := err.Error()
	for _, fm := range flagMessages {
		if m := fm.re.FindStringSubmatch(s); m != nil {
			return fm.with(m)
		}
	}
	return s
}

// errHelp ends a command after -h printed the usage: exit code 0.
var errHelp = errors.New("help")
