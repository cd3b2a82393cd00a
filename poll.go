package exportkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/exportkit/exportkit/internal/errkind"
)

// PollSchedule is exportkit's polling schedule as a pure function, so that
// code outside the SDK (a durable workflow's timers, say) can poll exactly
// as [Client.Wait] does. The zero value is not useful: start from
// [DefaultPollSchedule].
type PollSchedule struct {
	Min, Max   time.Duration // the first delay, and the cap the delays grow to
	Multiplier float64       // growth of each delay over the last (≥ 1)
	Jitter     float64       // spread of each delay, a fraction in [0, 1)
}

// DefaultPollSchedule returns the schedule every wait starts from: 2 s
// growing by 1.5× to 15 s, each delay spread by ±20%.
func DefaultPollSchedule() PollSchedule {
	return PollSchedule{Min: DefaultPollMin, Max: DefaultPollMax, Multiplier: DefaultPollMultiplier, Jitter: DefaultPollJitter}
}

// Delay returns the delay before status read attempt+1, for attempt ≥ 1
// (the first read comes at once): Min grown attempt-1 times by Multiplier,
// capped at Max, then spread by ±Jitter according to u, a uniform draw in
// [0, 1). The same attempt and draw always give the same delay, which is
// what a deterministic workflow replay needs.
//
// The spread is triangular: it keeps the mean delay, and so the request
// count, of the plain schedule, but puts less weight near +Jitter than a
// uniform spread, which keeps the worst detection lags at the cap shorter
// (p95 14.6 s instead of 15.0 s at the 15 s default), while waits started
// together still drift apart.
func (s PollSchedule) Delay(attempt int, u float64) time.Duration {
	d := float64(s.Min)
	for i := 1; i < attempt && d < float64(s.Max) && s.Multiplier > 1; i++ {
		d *= s.Multiplier
	}
	d = min(d, float64(s.Max))
	if s.Jitter > 0 {
		d *= 1 + s.Jitter*triangular(u)
	}
	return time.Duration(d)
}

// triangular maps a uniform draw u in [0, 1) onto the triangular
// distribution on [-1, 1] (the inverse of its distribution function), the
// same spread as the mean of two uniform draws, from one draw.
func triangular(u float64) float64 {
	u = min(max(u, 0), 1)
	if u < 0.5 {
		return math.Sqrt(2*u) - 1
	}
	return 1 - math.Sqrt(2*(1-u))
}

// delay returns the n-th delay (n ≥ 1) of the wait's schedule, with a
// fresh random draw.
func (cfg *waitConfig) delay(n int) time.Duration {
	return cfg.schedule.Delay(n, rand.Float64())
}

// pollTarget is what a vendor plugs into the polling core: how to read the
// status once, and what to save in a resume token.
type pollTarget struct {
	vendor  Vendor
	id      string
	started time.Time // when the wait (or the export) began: the not-found grace counts from it
	state   resumeState
	// read reads the status once. retryAfter is the server's Retry-After
	// (from an error or a successful response), 0 when absent. A read may
	// return an export and an error together (Kore: the export that
	// superseded ours).
	read func(ctx context.Context) (e Export, retryAfter time.Duration, err error)
}

// asRead adapts a vendor's typed status read to the polling core: on an
// error it returns a nil Export, never a typed nil pointer inside one.
func asRead[T Export](e T, info respInfo, err error) (Export, time.Duration, error) {
	if err != nil {
		return nil, info.retryAfter, err
	}
	return e, info.retryAfter, nil
}

// waitAs runs the polling core and returns the last export as T.
func waitAs[T Export](ctx context.Context, c *Client, t *pollTarget, opts []WaitOption) (T, error) {
	e, err := c.waitOn(ctx, t, opts)
	v, _ := e.(T)
	return v, err
}

// waitOn runs the polling core on t with a call's options.
func (c *Client) waitOn(ctx context.Context, t *pollTarget, opts []WaitOption) (Export, error) {
	cfg, err := c.waitConfigFor(t, opts)
	if err != nil {
		return nil, err
	}
	return c.poll(ctx, t, cfg)
}

// firstReadMin is the least time a wait's first status read is given,
// whatever the maximum wait: see WithMaxWait.
const firstReadMin = 10 * time.Second

// errMaxWait is the cause of the context a wait derives for WithMaxWait,
// to tell its expiry from the caller's context ending.
var errMaxWait = errors.New("maximum wait reached")

// pollLoop is the polling core: read at once, then on the backoff schedule,
// with Retry-After as a floor, until a terminal state, a final error, the
// context's end, the maximum wait or the maximum outage. It returns the
// last export read.
//
// When the export read changes identity (Orbit's chain goes from the run
// to its export), the schedule and the not-found grace start over: the new
// object is young and likely to change soon.
func (c *Client) pollLoop(ctx context.Context, t *pollTarget, cfg waitConfig) (Export, error) {
	start := time.Now()
	deadline := cfg.deadline
	if deadline.IsZero() && cfg.maxWait > 0 {
		deadline = start.Add(cfg.maxWait)
	}
	firstCtx := ctx
	if !deadline.IsZero() {
		// The maximum wait bounds requests and their retries too, and the
		// retry layer sees it as the time left.
		parent := ctx
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(parent, deadline, errMaxWait)
		defer cancel()
		firstCtx = ctx
		if cfg.deadline.IsZero() && cfg.maxWait < firstReadMin {
			// The first read gets at least firstReadMin, so that an export
			// already done is returned under a tiny maximum too.
			firstCtx, cancel = context.WithDeadlineCause(parent, start.Add(firstReadMin), errMaxWait)
			defer cancel()
		}
	}
	w := &waiting{c: c, t: t, cfg: &cfg, deadline: deadline}
	graceFrom := t.started
	if graceFrom.IsZero() {
		graceFrom = start
	}
	var (
		last        Export
		read        bool      // a status was read at least once
		outageSince time.Time // when the current outage began; zero when none
	)
	for attempt, n := 1, 1; ; attempt, n = attempt+1, n+1 {
		readAt := time.Now()
		readCtx := ctx
		if attempt == 1 {
			readCtx = firstCtx
		}
		e, ra, err := t.read(readCtx)
		if e == nil && err == nil {
			err = opError(t.vendor, "wait", t.id, errors.New("status read returned nothing"))
		}
		if e != nil {
			if last != nil && (e.ExportID() != last.ExportID() || e.Vendor() != last.Vendor()) {
				n, graceFrom = 1, time.Now()
			}
			last, read = e, true
			if cfg.onPoll != nil {
				cfg.onPoll(e)
			}
		}
		var ae *APIError
		if errors.As(err, &ae) {
			ra = max(ra, ae.RetryAfter)
		}
		switch {
		case err == nil && e.State().Terminal():
			w.log(ctx, attempt, e, ra, nil, -1)
			return e, e.Err()
		case err != nil && ctx.Err() != nil:
			w.log(ctx, attempt, e, ra, err, -1)
			return last, w.stopped(ctx)
		case err != nil && final(err, time.Since(graceFrom) < cfg.notFoundGrace):
			w.log(ctx, attempt, e, ra, err, -1)
			return last, err
		}
		outage := err != nil && isOutage(err)
		switch {
		case !outage:
			outageSince = time.Time{}
		case !read && isDialError(err):
			// Never read once and never reached: a wrong base URL or a
			// host that does not exist, not an outage to ride out.
			w.log(ctx, attempt, e, ra, err, -1)
			return last, fmt.Errorf("%w (the host was never reached)", err)
		case outageSince.IsZero():
			outageSince = readAt
		}
		if outage && time.Since(outageSince) >= cfg.maxOutage {
			w.log(ctx, attempt, e, ra, err, -1)
			return last, fmt.Errorf("%w (no answer for %s, the maximum outage)", err, time.Since(outageSince).Round(time.Second))
		}
		// Retry-After is a floor: never shortened, even above the maximum.
		d := max(cfg.delay(n), ra)
		w.log(ctx, attempt, e, ra, err, d)
		if outage && cfg.onRetry != nil {
			cfg.onRetry(err, d)
		}
		if err := w.sleep(ctx, d, ra, err); err != nil {
			return last, err
		}
	}
}

// isOutage reports whether a read's error, one that does not end the
// wait, is an outage (the API could not be reached or did not answer
// sensibly: connection errors, timeouts, 5xx after retries, malformed
// bodies) rather than an answer to wait on (not found during the grace,
// not ready, rate limited).
func isOutage(err error) bool {
	return !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotReady) && !errors.Is(err, ErrRateLimited)
}

// waiting is one run of the polling core: what its helpers need.
type waiting struct {
	c        *Client
	t        *pollTarget
	cfg      *waitConfig
	deadline time.Time // the maximum wait's end; zero when none
}

// sleep waits d before the next read. When the server asked for more time
// (floor) than the context or the maximum wait leaves, it returns at once
// with an error matching ErrRateLimited (and ErrWaitTimeout when the
// maximum wait is what is too short), wrapping cause, the error that
// carried the Retry-After, if any.
func (w *waiting) sleep(ctx context.Context, d, floor time.Duration, cause error) error {
	if dl, ok := ctx.Deadline(); ok && floor > 0 {
		if left := time.Until(dl); floor > left {
			return w.tooLong(floor, left, cause)
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return w.stopped(ctx)
	case <-timer.C:
		return nil
	}
}

// tooLong is the error for a Retry-After longer than the time left. It
// wraps the error that carried the Retry-After for errors.As, without
// repeating its text's prefix.
func (w *waiting) tooLong(floor, left time.Duration, cause error) error {
	msg := fmt.Sprintf("server asks to wait %s, more than the %s left", floor, max(left, 0).Round(time.Millisecond))
	var ae *APIError
	if errors.As(cause, &ae) {
		msg += ": " + ae.status()
	}
	kinds := []error{ErrRateLimited}
	if !w.deadline.IsZero() && floor > time.Until(w.deadline) {
		kinds = append(kinds, ErrWaitTimeout)
		msg = "timed out: " + msg
	}
	return opError(w.t.vendor, "wait", w.t.id, &errkind.Error{Msg: msg, Kinds: kinds, Cause: cause})
}

// stopped is the error for a context that ended: ErrWaitTimeout when it
// was the maximum wait ("timed out after 30s"), else the caller's context
// error (and its cause) in the words every call uses.
func (w *waiting) stopped(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errMaxWait) {
		return opError(w.t.vendor, "wait", w.t.id, kinded(ErrWaitTimeout, "timed out after %s", w.cfg.maxWait))
	}
	return opError(w.t.vendor, "wait", w.t.id, contextError(ctx))
}

// log writes one debug line per status read. next is the delay before the
// following read, negative when the wait ends. No URL or credential is in
// it: ids, states and error texts (already scrubbed and redacted).
func (w *waiting) log(ctx context.Context, attempt int, e Export, ra time.Duration, err error, next time.Duration) {
	if !w.c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("vendor", string(w.t.vendor)), slog.String("id", excerpt(w.t.id, maxIDInMessage)), slog.Int("attempt", attempt),
	}
	if e != nil {
		attrs = append(attrs, slog.String("state", string(e.State())), slog.String("status", excerpt(e.RawStatus(), 64)))
	}
	if ra > 0 {
		attrs = append(attrs, slog.Duration("retry_after", ra))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", w.c.scrub(redactText(err.Error()))))
	}
	if next >= 0 {
		attrs = append(attrs, slog.Duration("next", next))
	}
	w.c.log.LogAttrs(ctx, slog.LevelDebug, "exportkit: poll", attrs...)
}

// final reports whether an error ends a wait. Unauthorized, forbidden,
// superseded, bad input, other client errors and transport errors that no
// retry can fix (bad certificate, refused URL) do; not found does once the
// grace window is over; not ready, rate limits, 5xx after retries,
// connection errors and malformed bodies do not, while time remains.
func final(err error, inGrace bool) bool {
	switch {
	case errors.Is(err, ErrExportSuperseded), errors.Is(err, ErrUnauthorized), errors.Is(err, ErrForbidden):
		return true
	case errors.Is(err, ErrNotFound):
		return !inGrace
	case errors.Is(err, ErrNotReady), errors.Is(err, ErrRateLimited):
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return !ae.temporary()
	}
	var ie *inputError
	if errors.As(err, &ie) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // a request timeout (http.Client.Timeout), not ours: transient
	}
	return !retryableTransportError(err)
}

// inputError marks an error in what the caller passed, found before any
// request: waiting longer cannot fix it.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// Is makes every input error match [ErrInvalidInput].
func (e *inputError) Is(target error) bool { return target == ErrInvalidInput }

// Wait polls any export a service returned until it reaches a terminal
// state, with the same schedule and errors as the services' Wait methods.
// A Kore export returned by StartExport is checked against the bot's
// status: another export replacing it fails with [ErrExportSuperseded].
// When no status could be read, e itself is returned with the error.
func (c *Client) Wait(ctx context.Context, e Export, opts ...WaitOption) (Export, error) {
	t, err := c.targetFor(e)
	if err != nil {
		return e, err
	}
	got, err := c.waitOn(ctx, t, opts)
	if got == nil {
		got = e
	}
	return got, err
}

// resumeState is what a resume token holds: enough to take a wait up
// again in another process. It names the vendor, the kind of wait and its
// ids, and when the wait began (so that a resumed wait does not grant the
// not-found grace again). It holds no credential and no URL.
type resumeState struct {
	Vendor     Vendor `json:"v"`
	Kind       string `json:"k"`
	ID         string `json:"id,omitempty"` // the export (or run) id; Kore: the _id StartExport returned
	AudienceID string `json:"a,omitempty"`
	RunID      string `json:"r,omitempty"`
	BotID      string `json:"b,omitempty"`
	Started    int64  `json:"s,omitempty"` // Unix milliseconds
	Created    int64  `json:"c,omitempty"` // Kore: the started export's createdOn, Unix milliseconds
}

// Kinds of wait a resume token can hold.
const (
	kindLogExport      = "log"
	kindMemoryExport   = "memory"
	kindAudienceRun    = "run"
	kindAudienceExport = "audience-export"
	kindBotExport      = "bot"
)

// poll is the polling core (pollLoop) inside an "exportkit.wait" span, with
// an event per status read, and measured.
func (c *Client) poll(ctx context.Context, t *pollTarget, cfg waitConfig) (Export, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	if !c.tel.on() {
		return c.pollLoop(ctx, t, cfg)
	}
	w := c.tel.startWait(ctx, t)
	e, err := c.pollLoop(w.ctx, w.target(t), cfg)
	w.end(e, err)
	return e, err
}
