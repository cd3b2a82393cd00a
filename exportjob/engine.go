package exportjob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/exportkit/exportkit"
)

// Engine runs a store's jobs: it plans the runs that are due and drives
// each one to its end, one committed transition at a time. The engine
// decides; the [Vendor] methods act. One Engine may run many runs at once;
// several engines (in several processes) may share a store.
type Engine struct {
	c     *exportkit.Client
	st    *Store
	dir   string
	jobs  []jobEntry
	owner string
	cfg   config

	creates map[exportkit.Vendor]chan struct{} // at most cfg.createLimit creates at once per vendor
	jobMu   map[string]*sync.Mutex             // one create or reconciliation at a time per job
	serialM sync.Mutex
	serial  map[string]*sync.Mutex // what Vendor.Serial names, held for a whole run

	// hook, when set (by tests), is called at each named point: after each
	// transition's commit, and between a create's intent and its request.
	hook func(point string)
	// rename publishes a downloaded file (os.Rename; tests inject a full disk).
	rename func(from, to string) error
}

type jobEntry struct {
	Job
	v Vendor
}

type config struct {
	concurrency int
	createLimit int
	skew        time.Duration
	maxOutage   time.Duration
	schedule    exportkit.PollSchedule
	leaseTTL    time.Duration
	maxCreates  int
	maxRecreate int // times an expired run is planned again
	dest        DestinationFunc
	onEvent     func(Event)
	now         func() time.Time // the clock that decides which periods are due
}

// Option configures an [Engine]. A bad value is an error matching
// [exportkit.ErrInvalidInput] from [New].
type Option func(*config) error

// WithConcurrency sets how many runs one sync drives at once (default 16).
func WithConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalid("WithConcurrency: %d is not at least 1", n)
		}
		c.concurrency = n
		return nil
	}
}

// WithCreateLimit caps the create requests in flight at once per vendor
// (default 4).
func WithCreateLimit(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalid("WithCreateLimit: %d is not at least 1", n)
		}
		c.createLimit = n
		return nil
	}
}

// WithClockSkew sets how much earlier than the intent a vendor's creation
// time may be and still match in reconciliation (default 2 minutes).
func WithClockSkew(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return invalid("WithClockSkew: negative %s", d)
		}
		c.skew = d
		return nil
	}
}

// WithMaxOutage sets how long a wait rides out a vendor that cannot be
// reached before the run fails, to be taken up by the next sync (default
// [exportkit.DefaultMaxOutage]).
func WithMaxOutage(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("WithMaxOutage: %s is not positive", d)
		}
		c.maxOutage = d
		return nil
	}
}

// WithPollSchedule sets the waits' schedule (default
// [exportkit.DefaultPollSchedule]).
func WithPollSchedule(s exportkit.PollSchedule) Option {
	return func(c *config) error {
		if s.Min <= 0 || s.Max < s.Min || s.Multiplier < 1 || s.Jitter < 0 || s.Jitter >= 1 {
			return invalid("WithPollSchedule: %+v is not a schedule", s)
		}
		c.schedule = s
		return nil
	}
}

// WithLeaseTTL sets how long a run's lease lasts unless renewed (default
// 15 s; renewed every third of it): a killed holder's runs are taken over
// that long after it stopped.
func WithLeaseTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 100*time.Millisecond {
			return invalid("WithLeaseTTL: %s is under 100ms", d)
		}
		c.leaseTTL = d
		return nil
	}
}

// DefaultMaxRecreates is how many times a run whose export expired before
// its file was fetched is planned again, by default.
const DefaultMaxRecreates = 2

// WithMaxRecreates sets how many times a run whose export expired before
// its file was fetched is planned again, each time with a new create
// intent (default [DefaultMaxRecreates]; 0: never). A run that expires
// once more after that stays expired, its error saying so.
func WithMaxRecreates(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return invalid("WithMaxRecreates: %d is negative", n)
		}
		c.maxRecreate = n
		return nil
	}
}

// DestinationFunc returns where a run's file goes, for [WithDestination]:
// the destination [exportkit.Client.DownloadTo] delivers to, and its
// location as the store records it (an s3:// URL, say: never a
// credential or a query).
type DestinationFunc func(ctx context.Context, t Target) (d exportkit.Destination, location string, err error)

// Target is the run a [DestinationFunc] is asked about.
type Target struct {
	Job         string
	Fingerprint string
	// Name is the run's file as the engine's directory would hold it,
	// slash-separated: JOB/PERIOD.EXT (a key under a prefix, say).
	Name string
	// State keeps the destination's resume state in the engine's store,
	// for this run, until the run is done: a sync killed mid-delivery
	// hands the next one what it saved.
	State StateStore
}

// Published is implemented by a destination that can tell, before an
// export is created for a run, that the run's file is already stored
// there by exportkit: a sync whose store was lost, or made again. The run
// is then recorded done from what is stored, as a file already published
// in the engine's directory is, and nothing is created at the vendor or
// stored again. Published reports the stored file's size and SHA-1 (hex);
// ok is false when nothing is stored, and when what is stored is not
// exportkit's (the delivery then refuses to overwrite it). s3dest's
// Destination implements it.
type Published interface {
	Published(ctx context.Context) (size int64, sha1 string, ok bool, err error)
}

// StateStore keeps a destination's resume state under a key (the method
// set of s3dest.StateStore). Save writes only while the engine holds the
// run; Delete keeps the state until the run is marked done, so that a
// delivery killed after it published, before the run was marked done,
// can show the object is its own.
type StateStore interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Save(ctx context.Context, key string, state []byte) error
	Delete(ctx context.Context, key string) error
}

// WithDestination delivers each run's file with [exportkit.Client.DownloadTo]
// to the destination f returns for it (an S3 object, say) instead of
// downloading it into the engine's directory. The SHA-1 is always
// computed for the record. The destination publishes the file (an S3
// CompleteMultipartUpload) before the run is marked done; a sync killed
// in between delivers again to a destination that finds, from the state
// it saved, that the file is already there, and the run is marked done
// without storing it twice. A destination that implements [Published]
// is asked, before a new run's export is created, whether the run's file
// is stored already (a store lost and made again): the run is then
// recorded done from it.
func WithDestination(f DestinationFunc) Option {
	return func(c *config) error {
		if f == nil {
			return invalid("WithDestination: nil function")
		}
		c.dest = f
		return nil
	}
}

// WithOnEvent calls f at each transition of each run, one call at a time
// (for progress lines).
func WithOnEvent(f func(Event)) Option {
	return func(c *config) error {
		c.onEvent = f
		return nil
	}
}

// Event is one run reaching a state, for progress reports.
type Event struct {
	Run     Run
	Message string // what happened, in a few words
}

// Result is how one sync left one run. Err says why a run is not done:
// its failure, its parking, or the context's end.
type Result struct {
	Run Run
	Err error
}

// ErrParked matches the error of a run that was parked.
var ErrParked = errors.New("exportkit: run parked")

// New returns an engine for jobs, with the store st, writing files under
// dir (a directory per job; unused, and may be "", with
// [WithDestination]), using c for every vendor request: one client,
// so that its pacing (Kore's 60 requests a minute per bot) holds across
// every run. A bad job or option is an error matching
// [exportkit.ErrInvalidInput].
func New(c *exportkit.Client, st *Store, dir string, jobs []Job, opts ...Option) (*Engine, error) {
	if c == nil || st == nil {
		return nil, invalid("New: a client and a store are required")
	}
	cfg := config{concurrency: 16, createLimit: 4, skew: 2 * time.Minute, maxOutage: exportkit.DefaultMaxOutage,
		schedule: exportkit.DefaultPollSchedule(), leaseTTL: 15 * time.Second,
		maxCreates: 2, maxRecreate: DefaultMaxRecreates, now: time.Now}
	for _, o := range opts {
		if o == nil {
			return nil, invalid("New: nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if dir == "" && cfg.dest == nil {
		return nil, invalid("New: a directory is required (or WithDestination)")
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	host, _ := os.Hostname()
	e := &Engine{c: c, st: st, dir: dir, cfg: cfg, owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(id[:])),
		creates: map[exportkit.Vendor]chan struct{}{}, jobMu: map[string]*sync.Mutex{}, serial: map[string]*sync.Mutex{},
		rename: os.Rename}
	for name := range vendors {
		e.creates[name] = make(chan struct{}, cfg.createLimit)
	}
	seen := map[string]bool{}
	for _, j := range jobs {
		nj, v, err := j.normalized()
		if err != nil {
			return nil, err
		}
		if seen[nj.Name] {
			return nil, invalid("job %q: defined twice", nj.Name)
		}
		seen[nj.Name] = true
		e.jobs = append(e.jobs, jobEntry{Job: nj, v: v})
		e.jobMu[nj.Name] = &sync.Mutex{}
	}
	return e, nil
}

// Sync plans the runs that are due now and drives every unfinished run of
// the engine's jobs (including those an earlier, killed sync left) to its
// end: done, failed, expired or parked. It returns one result per run. A
// run another process holds is waited for, and taken over if its holder's
// lease lapses. When ctx ends, every run stops where it is, its state
// saved, and its result carries the context's error.
func (e *Engine) Sync(ctx context.Context) ([]Result, error) {
	now := e.cfg.now()
	var runs []*Run
	for _, j := range e.jobs {
		if err := e.st.plan(ctx, j.Job, now, e.cfg.maxRecreate); err != nil {
			return nil, err
		}
		e.point("planned")
		p, err := e.st.pending(ctx, j.Name)
		if err != nil {
			return nil, err
		}
		runs = append(runs, p...)
	}
	stop := e.renewLeases(ctx)
	defer stop()
	results := make([]Result, len(runs))
	// Runs an earlier sync left are taken up first, in the order of their
	// steps: creates left unresolved are reconciled before any other run
	// of their job writes an intent, and runs past their create finish
	// before a new create can replace their export (Kore keeps one per
	// bot). New runs come last.
	step := func(r *Run) State {
		if r.State == StateFailed {
			return r.resume
		}
		return r.State
	}
	e.driveAll(ctx, runs, results, func(r *Run) bool { return step(r) == StateCreating })
	e.driveAll(ctx, runs, results, func(r *Run) bool { s := step(r); return s != StateCreating && s != StatePlanned })
	e.driveAll(ctx, runs, results, func(r *Run) bool { return step(r) == StatePlanned })
	return results, nil
}

// driveAll drives the runs that which selects, at most cfg.concurrency at
// once, each result in its place.
func (e *Engine) driveAll(ctx context.Context, runs []*Run, results []Result, which func(*Run) bool) {
	sem := make(chan struct{}, e.cfg.concurrency)
	var wg sync.WaitGroup
	for i, r := range runs {
		if !which(r) {
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				results[i] = e.drive(ctx, r)
			case <-ctx.Done():
				results[i] = Result{Run: *r, Err: ctx.Err()}
			}
		})
	}
	wg.Wait()
}

// Watch syncs, then syncs again each time a job's next period falls due,
// calling f with each result, until ctx ends (its error is returned) or
// the store fails.
func (e *Engine) Watch(ctx context.Context, f func(Result)) error {
	for {
		res, err := e.Sync(ctx)
		if err != nil {
			return err
		}
		for _, r := range res {
			if f != nil {
				f(r)
			}
		}
		now := e.cfg.now()
		next := time.Time{}
		for _, j := range e.jobs {
			if end := periodOf(now, j.Every).End; next.IsZero() || end.Before(next) {
				next = end
			}
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// renewLeases renews this engine's leases every third of their life until
// the returned stop is called.
func (e *Engine) renewLeases(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(e.cfg.leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = e.st.renew(ctx, e.owner, e.cfg.leaseTTL) // a failed renewal shows at the next save
			}
		}
	}()
	return func() { cancel(); <-done }
}

// point calls the test hook.
func (e *Engine) point(name string) {
	if e.hook != nil {
		e.hook(name)
	}
}

// event reports a transition.
var eventMu sync.Mutex

func (e *Engine) event(r *Run, msg string) {
	if e.cfg.onEvent == nil {
		return
	}
	eventMu.Lock()
	defer eventMu.Unlock()
	e.cfg.onEvent(Event{Run: *r, Message: msg})
}

// hold takes the store lease on key, waiting while another live process
// holds it; done, when it returns true, ends the wait early (the run was
// finished by the other holder). It returns false when done said so.
func (e *Engine) hold(ctx context.Context, key string, done func() (bool, error)) (bool, error) {
	for {
		ok, err := e.st.acquire(ctx, key, e.owner, e.cfg.leaseTTL)
		if err != nil || ok {
			return ok, err
		}
		if done != nil {
			if d, err := done(); err != nil || d {
				return false, err
			}
		}
		t := time.NewTimer(min(e.cfg.leaseTTL/5, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// serialLock returns the in-process lock of a Serial key.
func (e *Engine) serialLock(key string) *sync.Mutex {
	e.serialM.Lock()
	defer e.serialM.Unlock()
	m := e.serial[key]
	if m == nil {
		m = &sync.Mutex{}
		e.serial[key] = m
	}
	return m
}

// drive takes a run's lease and moves the run on until it ends or ctx does.
func (e *Engine) drive(ctx context.Context, r *Run) Result {
	j := e.job(r.Job)
	fp := r.fingerprint
	finished := func() (bool, error) {
		cur, err := e.st.get(ctx, fp)
		if err != nil {
			return false, err
		}
		*r = *cur
		return r.State.Terminal() && !r.Retryable(), nil
	}
	ok, err := e.hold(ctx, runLease(fp), finished)
	if err != nil || !ok {
		return e.result(r, err)
	}
	defer e.st.release(context.WithoutCancel(ctx), runLease(fp), e.owner)
	if key := j.v.Serial(r.params); key != "" {
		m := e.serialLock(key)
		m.Lock()
		defer m.Unlock()
		if _, err := e.hold(ctx, key, nil); err != nil {
			return e.result(r, err)
		}
		defer e.st.release(context.WithoutCancel(ctx), key, e.owner)
	}
	cur, err := e.st.get(ctx, fp) // as the last holder left it
	if err != nil {
		return e.result(r, err)
	}
	*r = *cur
	return e.result(r, e.advance(ctx, j, r))
}

func (e *Engine) job(name string) jobEntry {
	for _, j := range e.jobs {
		if j.Name == name {
			return j
		}
	}
	panic("exportjob: run of an unknown job " + name) // pending lists only the engine's jobs
}

// result is a run's Result: its error, or the one its final state implies.
func (e *Engine) result(r *Run, err error) Result {
	if err == nil {
		switch r.State {
		case StateParked:
			err = fmt.Errorf("%w: %s", ErrParked, r.Error)
		case StateFailed:
			err = fmt.Errorf("exportkit: run failed: %s", r.Error)
			if r.resume == "" {
				err = fmt.Errorf("%w: %s", exportkit.ErrExportFailed, r.Error)
			}
		case StateExpired:
			err = fmt.Errorf("%w: %s", exportkit.ErrExportExpired, r.Error)
		}
	}
	return Result{Run: *r, Err: err}
}
