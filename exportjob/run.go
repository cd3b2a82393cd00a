package exportjob

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"

	"github.com/exportkit/exportkit"
)

// State is where a job run is.
type State string

// The states of a job run.
const (
	// StatePlanned is a run the store knows of and nothing has been sent for.
	StatePlanned State = "planned"
	// StateCreating is a durable intent: the create request may have left.
	StateCreating State = "creating"
	// StateCreated is a run with the vendor's id of its export.
	StateCreated State = "created"
	// StateWaiting is a run polling its export; the store holds the resume
	// token and the next poll time.
	StateWaiting State = "waiting"
	// StateDownloading is a run fetching its file.
	StateDownloading State = "downloading"
	// StateDone is a run whose file is published (or delivered to its
	// destination, WithDestination).
	StateDone State = "done"
	// StateFailed is a run that ended without a file. A run that failed on
	// an outage or a local error is taken up again by the next sync from
	// the step it failed in; one the vendor failed is final.
	StateFailed State = "failed"
	// StateExpired is a run whose export expired before its file was
	// fetched. The next sync plans it again, to make a new intent, at most
	// WithMaxRecreates times (default 2); after that it stays expired.
	StateExpired State = "expired"
	// StateParked is a run a person must look at: its create may have
	// landed, and the vendor lists no single export it could be.
	StateParked State = "parked"
)

// Terminal reports whether the state ends a sync's work on a run.
func (s State) Terminal() bool {
	switch s {
	case StateDone, StateFailed, StateExpired, StateParked:
		return true
	}
	return false
}

// Defaults of a [Job].
const (
	DefaultEvery   = 24 * time.Hour
	DefaultCatchup = 7
)

// Job is one recurring export: a vendor, its parameters, and a period.
type Job struct {
	// Name is unique among a store's jobs: letters, digits, '-' and '_'.
	Name string
	// Vendor is the export's vendor.
	Vendor exportkit.Vendor
	// Every is the period (default [DefaultEvery]); periods are aligned to
	// UTC multiples of it.
	Every time.Duration
	// Catchup bounds the missed periods one sync makes up (default
	// [DefaultCatchup]; negative: none).
	Catchup int
	// Start, when set, backfills from the period containing it; otherwise a
	// new job starts with the period containing now.
	Start time.Time
	// Params are the vendor's parameters, named as the `exportkit create`
	// flags are: format, log-type, user, category, audience, bot, type, ….
	Params map[string]string
}

var jobName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// normalized checks the job and fills in its defaults.
func (j Job) normalized() (Job, Vendor, error) {
	if !jobName.MatchString(j.Name) {
		return j, nil, invalid("job %q: a name is 1 to 64 letters, digits, '-' or '_'", j.Name)
	}
	v, ok := vendors[j.Vendor]
	if !ok {
		return j, nil, invalid("job %q: unknown vendor %q", j.Name, j.Vendor)
	}
	if j.Every == 0 {
		j.Every = DefaultEvery
	}
	if j.Every < time.Minute || j.Every%time.Second != 0 {
		return j, nil, invalid("job %q: every %s is not a whole number of seconds of at least 1m", j.Name, j.Every)
	}
	if j.Catchup == 0 {
		j.Catchup = DefaultCatchup
	}
	if j.Catchup < 0 {
		j.Catchup = 0
	}
	if j.Params == nil {
		j.Params = map[string]string{}
	}
	if err := v.Check(j.Params); err != nil {
		return j, nil, invalid("job %q: %v", j.Name, err)
	}
	return j, v, nil
}

// Period is one period of a job: [Start, End).
type Period struct{ Start, End time.Time }

// periodOf returns the period of length every containing t, aligned to
// UTC multiples of every since the Unix epoch.
func periodOf(t time.Time, every time.Duration) Period {
	n := t.UnixNano() / int64(every)
	if t.UnixNano() < 0 && t.UnixNano()%int64(every) != 0 {
		n--
	}
	s := time.Unix(0, n*int64(every)).UTC()
	return Period{Start: s, End: s.Add(every)}
}

// duePeriods returns the periods a sync at now plans for the job, oldest
// first, given next, the start of the first period not yet planned (zero
// for a job never planned): the current period and at most Catchup missed
// ones before it; with Start, the oldest Catchup+1 not yet planned.
func duePeriods(j Job, now, next time.Time) []Period {
	cur := periodOf(now, j.Every)
	from := next
	if from.IsZero() {
		from = cur.Start
		if !j.Start.IsZero() {
			from = periodOf(j.Start, j.Every).Start
		}
	}
	var out []Period
	for s := from; !s.After(cur.Start); s = s.Add(j.Every) {
		out = append(out, Period{Start: s, End: s.Add(j.Every)})
		if !j.Start.IsZero() && len(out) > j.Catchup {
			return out // backfill: oldest first, at most Catchup+1 a sync
		}
	}
	if len(out) > j.Catchup+1 {
		out = out[len(out)-j.Catchup-1:] // missed periods beyond Catchup are skipped
	}
	return out
}

// Fingerprint is a job run's identity: the job's name and the period's
// start. The store's primary key holds it, so a run exists once.
func Fingerprint(job string, period time.Time) string {
	return job + "@" + period.UTC().Format(time.RFC3339)
}

// idempotencyKey derives the key of a run's n-th create intent from its
// fingerprint: stable across restarts (Orbit answers the same key with the
// same run), different per intent, at most 120 characters.
func idempotencyKey(fp string, n int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s#%d", fp, n))
	return "exportkit-" + hex.EncodeToString(sum[:16])
}

// Intent is what a create request asks for, as the store recorded it
// before the request left.
type Intent struct {
	Job    string
	Period Period
	// At is when the intent was written; reconciliation looks at exports
	// created at or after At less the clock skew allowance (Since).
	At, Since time.Time
	// Key is the idempotency key sent where the vendor takes one (Orbit).
	Key    string
	Params map[string]string
}

// Run is one job run as the store holds it.
type Run struct {
	Job         string
	Vendor      exportkit.Vendor
	Period      Period
	State       State
	ExportID    string    // the vendor's id of the export the run created or adopted
	File        string    // the published file, relative to the engine's directory; or where a destination put it (WithDestination)
	Size        int64     // bytes, once downloaded
	SHA1        string    // hex, once downloaded
	Rows        int64     // rows where the vendor reports them, else -1
	Candidates  []string  // the vendor ids a parked run could be
	Error       string    // why the run failed, expired or is parked
	Creates     int       // create intents written
	Recreates   int       // times planned again after its export expired
	IntentAt    time.Time // the last intent's time
	UpdatedAt   time.Time
	resume      State // the step a failed run is taken up from; "" when final
	createsBase int   // Creates when the run was last planned again
	key         string
	token       string
	nextPoll    time.Time
	polls       int
	params      map[string]string
	fingerprint string
}

// Fingerprint returns the run's fingerprint.
func (r *Run) Fingerprint() string { return r.fingerprint }

// Retryable reports whether a failed run is taken up again by the next sync.
func (r *Run) Retryable() bool { return r.State == StateFailed && r.resume != "" }

func (r *Run) intent(skew time.Duration) *Intent {
	return &Intent{Job: r.Job, Period: r.Period, At: r.IntentAt, Since: r.IntentAt.Add(-skew), Key: r.key, Params: r.params}
}

// inputError is input refused before anything is sent: it matches
// [exportkit.ErrInvalidInput].
type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == exportkit.ErrInvalidInput }

func invalid(format string, args ...any) error {
	return &inputError{"exportkit: exportjob: " + fmt.Sprintf(format, args...)}
}
