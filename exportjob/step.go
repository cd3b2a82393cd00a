package exportjob

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// advance moves r on, one committed transition at a time, until it ends
// or ctx does. A failure of this sync's work on the run is saved in the
// run (state failed, with the step it is taken up from); the error
// returned is the context's or the store's.
func (e *Engine) advance(ctx context.Context, j jobEntry, r *Run) error {
	if r.State == StateFailed && r.resume != "" {
		next := *r
		next.State, next.resume, next.Error = r.resume, "", ""
		if err := e.save(ctx, r, &next, "retrying after: "+r.Error); err != nil {
			return err
		}
	}
	for !r.State.Terminal() {
		var err error
		switch r.State {
		case StatePlanned:
			err = e.plan(ctx, j, r)
		case StateCreating:
			err = e.reconcile(ctx, j, r, nil)
		case StateCreated:
			next := *r
			next.State, next.nextPoll, next.polls = StateWaiting, time.Now(), 0
			err = e.save(ctx, r, &next, "waiting")
		case StateWaiting:
			err = e.wait(ctx, j, r)
		case StateDownloading:
			err = e.download(ctx, j, r)
		default:
			err = fmt.Errorf("exportkit: exportjob: run %s in unknown state %q", r.fingerprint, r.State)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// save commits next over r (in r's state) and makes it r, then reports
// and calls the hook named after the new state.
func (e *Engine) save(ctx context.Context, r, next *Run, msg string, also ...func(*sql.Tx) error) error {
	var f func(*sql.Tx) error
	if len(also) > 0 {
		f = also[0]
	}
	if err := e.st.save(ctx, e.owner, r.State, next, f); err != nil {
		return err
	}
	*r = *next
	e.event(r, msg)
	e.point(string(r.State))
	return nil
}

// fail ends this sync's work on r: resume is the step the next sync takes
// it up from ("" for a final failure).
func (e *Engine) fail(ctx context.Context, r *Run, resume State, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: the run stays where it is
	}
	next := *r
	next.State, next.resume, next.Error = StateFailed, resume, errText(err)
	return e.save(ctx, r, &next, "failed: "+next.Error)
}

// expire ends r as expired, for why. The next sync plans it again, with
// a new create intent, unless it was planned again as often as
// WithMaxRecreates allows: then it stays expired, and its error says so.
func (e *Engine) expire(ctx context.Context, r *Run, why string) error {
	next := *r
	next.State, next.Error = StateExpired, why
	if r.Recreates >= e.cfg.maxRecreate {
		next.Error = fmt.Sprintf("%s; created again %d times after it expired, the most allowed (WithMaxRecreates): not again", why, r.Recreates)
	}
	return e.save(ctx, r, &next, "expired")
}

// park ends r for a person to look at.
func (e *Engine) park(ctx context.Context, r *Run, cands []string, why string) error {
	next := *r
	next.State, next.Candidates, next.Error = StateParked, cands, why
	return e.save(ctx, r, &next, "parked: "+why)
}

// finalPath is where r's file is published; rel is the same relative to
// the engine's directory.
func (e *Engine) finalPath(j jobEntry, r *Run) (abs, rel string) {
	rel = filepath.Join(j.Name, r.Period.Start.UTC().Format("2006-01-02T15-04-05Z")+"."+j.v.Ext(r.params))
	return filepath.Join(e.dir, rel), rel
}

// plan writes a new create intent for r: from here on, the create may
// have been sent. A file already published for the period (a store lost
// and made again), in the engine's directory or at a destination that
// says so (Published), is kept, not created or fetched again.
func (e *Engine) plan(ctx context.Context, j jobEntry, r *Run) error {
	if abs, rel := e.finalPath(j, r); e.cfg.dest == nil && fileExists(abs) {
		size, sum, err := hashFile(abs)
		if err != nil {
			return e.fail(ctx, r, StatePlanned, err)
		}
		next := *r
		next.State, next.File, next.Size, next.SHA1, next.Error = StateDone, rel, size, sum, ""
		return e.save(ctx, r, &next, "done: the published file was kept", e.publishTx(r))
	}
	if e.cfg.dest != nil {
		if kept, err := e.keepPublished(ctx, j, r); kept || err != nil {
			return err
		}
	}
	mu := e.jobMu[j.Name]
	mu.Lock()
	defer mu.Unlock()
	if err := e.intend(ctx, j, r); err != nil {
		return err
	}
	if r.State != StateCreating {
		return nil // failed: another run's create is unresolved
	}
	return e.send(ctx, j, r)
}

// errJobCreating: another run of the job has an intent not yet resolved.
type errJobCreating struct{ other *Run }

func (e *errJobCreating) Error() string {
	return fmt.Sprintf("run %s of the job has a create not resolved yet (%s)", e.other.fingerprint, e.other.State)
}

// intend commits a new intent (creating, its time, key and count), the
// caller holding the job's lock. A job has at most one intent unresolved
// at a time, checked in the intent's own transaction: reconciliation can
// then never take another period's export for this one (Brainbase echoes
// no date range). While another process resolves one, intend waits; one
// left failed fails r too, to be planned again by the next sync.
func (e *Engine) intend(ctx context.Context, j jobEntry, r *Run) error {
	for {
		next := *r
		next.State, next.Creates, next.IntentAt = StateCreating, r.Creates+1, time.Now().UTC()
		next.key, next.Error, next.Candidates = idempotencyKey(r.fingerprint, next.Creates), "", nil
		err := e.save(ctx, r, &next, "creating", func(tx *sql.Tx) error {
			o, err := e.st.otherCreating(ctx, tx, r.Job, r.fingerprint)
			if err != nil || o == nil {
				return err
			}
			return &errJobCreating{other: o}
		})
		var busy *errJobCreating
		if !errors.As(err, &busy) {
			return err
		}
		if busy.other.State != StateCreating {
			return e.fail(ctx, r, StatePlanned, busy)
		}
		mu := e.jobMu[j.Name] // held by the caller: let the other run's reconciliation in
		mu.Unlock()
		err = sleep(ctx, min(e.cfg.leaseTTL/5, time.Second))
		mu.Lock()
		if err != nil {
			return err
		}
	}
}

// send sends the create request of r's intent, once, the caller holding
// the job's lock. A reply that may have been lost (the request may have
// reached the vendor) is reconciled at once; a refusal fails the run, to
// be planned again next time.
func (e *Engine) send(ctx context.Context, j jobEntry, r *Run) error {
	sem := e.creates[j.Vendor]
	for attempt := 1; ; attempt++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		x, err := j.v.Create(ctx, e.c, r.intent(e.cfg.skew))
		<-sem
		switch {
		case err == nil:
			return e.adopt(ctx, r, x, "created")
		case ctx.Err() != nil:
			return ctx.Err() // reconciled by the next sync
		case !refused(err):
			return e.reconcileLocked(ctx, j, r, err)
		}
		var ae *exportkit.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusTooManyRequests && attempt < 4 {
			if err := sleep(ctx, max(ae.RetryAfter, time.Second)); err != nil {
				return err
			}
			continue // refused: nothing was created, the same intent is sent again
		}
		next := *r
		next.Creates-- // refused: this intent created nothing
		next.State, next.resume, next.Error = StateFailed, StatePlanned, errText(err)
		return e.save(ctx, r, &next, "failed: "+next.Error)
	}
}

// refused reports whether a create's error proves nothing was created:
// input refused before sending, or a 4xx answer (but 408) from the vendor.
func refused(err error) bool {
	if errors.Is(err, exportkit.ErrInvalidInput) {
		return true
	}
	var ae *exportkit.APIError
	return errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500 && ae.StatusCode != http.StatusRequestTimeout
}

// reconcile asks the vendor what it holds for r's intent before anything
// is created again. cause is the error of a create whose reply was lost
// in this process, nil for an intent found in the store.
func (e *Engine) reconcile(ctx context.Context, j jobEntry, r *Run, cause error) error {
	mu := e.jobMu[j.Name]
	mu.Lock()
	defer mu.Unlock()
	return e.reconcileLocked(ctx, j, r, cause)
}

func (e *Engine) reconcileLocked(ctx context.Context, j jobEntry, r *Run, cause error) error {
	found, err := j.v.Reconcile(ctx, e.c, r.intent(e.cfg.skew))
	if err != nil {
		return e.fail(ctx, r, StateCreating, fmt.Errorf("reconcile: %w", err))
	}
	owned, err := e.st.owned(ctx, j.Vendor)
	if err != nil {
		return err
	}
	var cands []exportkit.Export
	var ids []string
	for _, x := range found {
		if !owned[x.ExportID()] {
			cands = append(cands, x)
			ids = append(ids, x.ExportID())
		}
	}
	switch {
	case len(cands) == 1:
		return e.adopt(ctx, r, cands[0], "created (reconciled: adopted "+ids[0]+")")
	case len(cands) > 1:
		return e.park(ctx, r, ids, fmt.Sprintf("%d exports at the vendor match the intent of %s: %s", len(ids),
			r.IntentAt.Format(time.RFC3339), strings.Join(ids, ", ")))
	case cause != nil:
		return e.park(ctx, r, []string{}, fmt.Sprintf("the create may have landed (%s) but the vendor lists no export matching it", errText(cause)))
	case r.Creates-r.createsBase >= e.cfg.maxCreates:
		return e.park(ctx, r, []string{}, fmt.Sprintf("%d create intents and the vendor lists no export matching any: not creating a third",
			r.Creates-r.createsBase))
	}
	// Nothing at the vendor: the last intent's request never landed.
	if err := e.intend(ctx, j, r); err != nil || r.State != StateCreating {
		return err
	}
	return e.send(ctx, j, r)
}

// adopt records x as r's export (and as owned by r) with its wait's
// resume token.
func (e *Engine) adopt(ctx context.Context, r *Run, x exportkit.Export, msg string) error {
	token, err := e.token(x)
	if err != nil {
		return e.fail(ctx, r, "", err)
	}
	next := *r
	next.State, next.ExportID, next.token, next.Candidates = StateCreated, x.ExportID(), token, nil
	return e.save(ctx, r, &next, msg+" "+x.ExportID(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO exports (vendor, id, fingerprint) VALUES (?, ?, ?)`,
			string(x.Vendor()), x.ExportID(), r.fingerprint)
		return err
	})
}

func (e *Engine) token(x exportkit.Export) (string, error) {
	w, err := e.c.NewWaiter(x)
	if err != nil {
		return "", err
	}
	return w.ResumeToken()
}

// wait polls r's export on the schedule from its resume token until it is
// ready (then its file is the next export to wait on, or downloading),
// failed or expired. Outages are ridden out for the maximum outage.
func (e *Engine) wait(ctx context.Context, j jobEntry, r *Run) error {
	w, err := e.c.ResumeWaiter(r.token)
	if err != nil {
		return e.fail(ctx, r, "", err)
	}
	var outageSince time.Time
	for {
		if err := sleep(ctx, time.Until(r.nextPoll)); err != nil {
			return err
		}
		x, err := w.Poll(ctx)
		if err == nil && x.State() == exportkit.StateReady {
			var nx exportkit.Export
			if nx, err = j.v.File(ctx, e.c, x); err == nil {
				next := *r
				if nx == nil {
					next.State = StateDownloading
					return e.save(ctx, r, &next, "downloading")
				}
				if next.token, err = e.token(nx); err != nil {
					return e.fail(ctx, r, "", err)
				}
				if w, err = e.c.ResumeWaiter(next.token); err != nil {
					return e.fail(ctx, r, "", err)
				}
				next.polls, next.nextPoll = 0, time.Now()
				if err := e.save(ctx, r, &next, "waiting for "+nx.ExportID()); err != nil {
					return err
				}
				continue
			}
		}
		var floor time.Duration
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			outageSince = time.Time{}
			switch x.State() {
			case exportkit.StateFailed, exportkit.StateCanceled:
				next := *r
				next.State, next.Error = StateFailed, errText(x.Err())
				return e.save(ctx, r, &next, "failed: "+next.Error)
			case exportkit.StateExpired:
				return e.expire(ctx, r, errText(x.Err()))
			}
		case errors.Is(err, exportkit.ErrExportSuperseded), errors.Is(err, exportkit.ErrBadResumeToken):
			return e.fail(ctx, r, "", err)
		case errors.Is(err, exportkit.ErrNotReady) || errors.Is(err, exportkit.ErrRateLimited):
			var ae *exportkit.APIError // an answer to wait on, not an outage
			if errors.As(err, &ae) {
				floor = ae.RetryAfter
			}
		default: // an outage, or not found yet: ride it out for the maximum outage
			if outageSince.IsZero() {
				outageSince = time.Now()
			} else if time.Since(outageSince) >= e.cfg.maxOutage {
				return e.fail(ctx, r, StateWaiting, fmt.Errorf("%w (for %s, the maximum outage)", err, time.Since(outageSince).Round(time.Millisecond)))
			}
			var ae *exportkit.APIError
			if errors.As(err, &ae) {
				floor = ae.RetryAfter
			}
		}
		next := *r
		next.polls++
		next.nextPoll = time.Now().Add(max(e.cfg.schedule.Delay(next.polls, rand.Float64()), floor))
		if err := e.save(ctx, r, &next, "polled"); err != nil {
			return err
		}
	}
}

// download fetches r's file to a staging name beside its final path
// (DownloadFile: resumed after a kill, verified, SHA-1 computed), records
// it, publishes it with a rename, and marks the run done in the
// transaction that advances the job's watermark.
func (e *Engine) download(ctx context.Context, j jobEntry, r *Run) error {
	if e.cfg.dest != nil {
		return e.deliver(ctx, j, r)
	}
	abs, rel := e.finalPath(j, r)
	stage := abs + ".download"
	if r.SHA1 == "" {
		x, err := e.ready(ctx, r)
		if x == nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return e.fail(ctx, r, StateDownloading, err)
		}
		next := *r
		if fileExists(stage) && !fileExists(stage+".partial") {
			// Downloaded and verified by a process killed before it said so.
			next.Size, next.SHA1, err = hashFile(stage)
		} else {
			var res *exportkit.DownloadResult
			res, err = e.c.DownloadFile(ctx, x, stage, exportkit.WithSHA1())
			if res != nil {
				next.Size, next.SHA1 = res.Bytes, res.SHA1
			}
		}
		if err != nil || ctx.Err() != nil {
			return e.transferFailed(ctx, r, err)
		}
		next.Rows = j.v.Rows(x)
		if err := e.save(ctx, r, &next, fmt.Sprintf("downloaded %d bytes", next.Size)); err != nil {
			return err
		}
		e.point("downloaded")
	}
	switch {
	case fileExists(stage):
		if err := e.rename(stage, abs); err != nil {
			return e.fail(ctx, r, StateDownloading, fmt.Errorf("publish %s: %w", rel, err))
		}
		syncDir(filepath.Dir(abs))
	case !fileExists(abs):
		next := *r // the staged file is gone: fetch it again
		next.SHA1, next.Size = "", -1
		return e.save(ctx, r, &next, "downloading again: the staged file is gone")
	}
	e.point("published")
	next := *r
	next.State, next.File, next.Error = StateDone, rel, ""
	return e.save(ctx, r, &next, "done", e.publishTx(r))
}

// transferFailed ends a transfer of r's file that failed with err or
// whose context ended: the context's error as it is (the run is taken up
// again), an expired export re-planned through expire, anything else a
// failure the next sync takes up from the download.
func (e *Engine) transferFailed(ctx context.Context, r *Run, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, exportkit.ErrExportExpired):
		return e.expire(ctx, r, errText(err))
	default:
		return e.fail(ctx, r, StateDownloading, err)
	}
}

// ready reads r's export again before its file is fetched: the export
// when it can be, or no export when the run ended here (expired, failed,
// or failed to be read: saved in the run), with the error of that save.
func (e *Engine) ready(ctx context.Context, r *Run) (exportkit.Export, error) {
	x, err := e.fresh(ctx, r)
	switch {
	case errors.Is(err, exportkit.ErrExportSuperseded):
		return nil, e.fail(ctx, r, "", err) // another export replaced it: final
	case err != nil:
		return nil, e.fail(ctx, r, StateDownloading, err)
	}
	switch x.State() {
	case exportkit.StateExpired:
		return nil, e.expire(ctx, r, "the export expired before its file was fetched")
	case exportkit.StateFailed, exportkit.StateCanceled:
		next := *r
		next.State, next.Error = StateFailed, errText(x.Err())
		return nil, e.save(ctx, r, &next, "failed")
	}
	return x, nil
}

// keepPublished records r done from its destination when the destination
// says the file is already stored there (Published); kept is false when
// it is not, or the destination cannot tell.
func (e *Engine) keepPublished(ctx context.Context, j jobEntry, r *Run) (kept bool, err error) {
	d, loc, err := e.destination(ctx, j, r)
	if err != nil {
		return true, e.fail(ctx, r, StatePlanned, err)
	}
	p, ok := d.(Published)
	if !ok {
		return false, nil
	}
	size, sum, found, err := p.Published(ctx)
	if err != nil {
		return true, e.fail(ctx, r, StatePlanned, err)
	}
	if !found {
		return false, nil
	}
	next := *r
	next.State, next.File, next.Size, next.SHA1, next.Error = StateDone, loc, size, sum, ""
	return true, e.save(ctx, r, &next, "done: the file already stored at "+loc+" was kept", e.publishTx(r))
}

// destination is where WithDestination sends r's file.
func (e *Engine) destination(ctx context.Context, j jobEntry, r *Run) (exportkit.Destination, string, error) {
	_, rel := e.finalPath(j, r)
	return e.cfg.dest(ctx, Target{Job: r.Job, Fingerprint: r.fingerprint, Name: filepath.ToSlash(rel),
		State: &runState{st: e.st, fp: r.fingerprint, owner: e.owner}})
}

// deliver hands r's file to the destination WithDestination gives for it
// (DownloadTo: verified, SHA-1 computed, the destination's resume state
// kept in the store), then marks the run done with what was stored, in
// the transaction that advances the job's watermark and drops the
// destination's state. The destination publishes before that commit: a
// sync killed in between delivers again, and a destination that finds
// its own published file (from the state it saved) stores nothing twice.
func (e *Engine) deliver(ctx context.Context, j jobEntry, r *Run) error {
	x, err := e.ready(ctx, r)
	if x == nil {
		return err
	}
	d, loc, err := e.destination(ctx, j, r)
	if err != nil {
		return e.fail(ctx, r, StateDownloading, err)
	}
	res, err := e.c.DownloadTo(ctx, x, d, exportkit.WithSHA1())
	if err != nil || ctx.Err() != nil {
		return e.transferFailed(ctx, r, err)
	}
	e.point("delivered")
	if loc == "" {
		loc = res.Location
	}
	next := *r
	next.State, next.File, next.Size, next.SHA1, next.Rows, next.Error = StateDone, loc, res.Bytes, res.SHA1, j.v.Rows(x), ""
	publish := e.publishTx(r)
	return e.save(ctx, r, &next, fmt.Sprintf("done: delivered %d bytes to %s", res.Bytes, loc), func(tx *sql.Tx) error {
		if err := publish(tx); err != nil {
			return err
		}
		return dropStateTx(ctx, tx, r.fingerprint)
	})
}

// publishTx advances the job's watermark to the run's period end, in the
// transaction that marks the run done.
func (e *Engine) publishTx(r *Run) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE jobs SET watermark = MAX(watermark, ?) WHERE name = ?`, ms(r.Period.End), r.Job)
		return err
	}
}

// fresh reads r's export again from its resume token: a fresh status and
// download URL.
func (e *Engine) fresh(ctx context.Context, r *Run) (exportkit.Export, error) {
	w, err := e.c.ResumeWaiter(r.token)
	if err != nil {
		return nil, err
	}
	return w.Poll(ctx)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func hashFile(p string) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha1.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// syncDir makes a rename in dir durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
