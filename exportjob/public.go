package exportjob

import (
	"time"

	"github.com/exportkit/exportkit"
)

// What other runners of job runs (exporttemporal) share with the engine:
// the vendors' method sets, a job's checks and defaults, its periods and
// the keys of its create intents. The engine and every other runner use
// the same functions, so that a run has one fingerprint, one period and
// one idempotency key whoever drives it.

// LookupVendor returns the [Vendor] registered for the vendor name, and
// false for a name no vendor of this package has.
func LookupVendor(name exportkit.Vendor) (Vendor, bool) {
	v, ok := vendors[name]
	return v, ok
}

// Normalize checks the job (its name, vendor, period and parameters) and
// returns it with its defaults filled in: Every [DefaultEvery] when zero,
// Catchup [DefaultCatchup] when zero and 0 when negative, Params non-nil.
// A bad job is an error matching [exportkit.ErrInvalidInput].
func Normalize(j Job) (Job, error) {
	nj, _, err := j.normalized()
	return nj, err
}

// PeriodOf returns the period of length every containing t, aligned to
// UTC multiples of every since the Unix epoch, as the engine plans them.
func PeriodOf(t time.Time, every time.Duration) Period { return periodOf(t, every) }

// DuePeriods returns the periods of j due at now, oldest first, as the
// engine plans them: next is the start of the first period not yet planned
// (zero for a job never planned). The result is the current period and at
// most Catchup missed ones before it; with Start, the oldest Catchup+1 not
// yet planned. j is normalized first; a bad job is an error matching
// [exportkit.ErrInvalidInput].
func DuePeriods(j Job, now, next time.Time) ([]Period, error) {
	nj, err := Normalize(j)
	if err != nil {
		return nil, err
	}
	return duePeriods(nj, now, next), nil
}

// IdempotencyKey is the key of the n-th create intent (from 1) of the run
// whose fingerprint is fp ([Fingerprint]): what the engine stores in the
// intent and sends as Orbit's Idempotency-Key. It is a pure function of
// its arguments, stable across processes and machines.
func IdempotencyKey(fp string, n int) string { return idempotencyKey(fp, n) }

// FileName is the name, relative to a directory of files, that the engine
// publishes a run's file under: the job's name, then the period's start
// and the vendor's extension ("logs/2026-12-01T00-00-00Z.csv"). j must be
// normalized ([Normalize]).
func FileName(j Job, p Period) string {
	ext := "out"
	if v, ok := vendors[j.Vendor]; ok {
		ext = v.Ext(j.Params)
	}
	return j.Name + "/" + p.Start.UTC().Format("2006-01-02T15-04-05Z") + "." + ext
}

// Refused reports whether the error of a [Vendor.Create] proves that
// nothing was created: input refused before sending, or a 4xx answer (but
// 408) from the vendor. Any other error leaves the create unknown: the
// request may have reached the vendor, and the run must be reconciled
// ([Vendor.Reconcile]) before anything is created again.
func Refused(err error) bool { return refused(err) }
