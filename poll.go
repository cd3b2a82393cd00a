package exportkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Default polling schedule: the first read at once, then delays that start
// at 2 s and grow by 1.5× up to 15 s, each spread by ±20% so that waits
// started together drift apart.
const (
	DefaultPollMin        = 2 * time.Second
	DefaultPollMax        = 15 * time.Second
	DefaultPollMultiplier = 1.5
	DefaultPollJitter     = 0.2
	// DefaultNotFoundGrace is how long after a wait starts a 404 is taken
	// for an eventually consistent API that has not seen the export yet.
	DefaultNotFoundGrace = 10 * time.Second
)

// WaitOption configures a wait: Wait, WaitRun, WaitExport, Client.Wait,
// ResumeWait and WaitAll.
type WaitOption func(*waitConfig)

type waitConfig struct {
	min, max      time.Duration
	multiplier    float64
	jitter        float64
	maxWait       time.Duration
	onPoll        func(Export)
	notFoundGrace time.Duration
	concurrency   int
}

// WithPollInterval sets the first delay between status reads and the
// largest one (defaults 2 s and 15 s). A Retry-After from the server can
// still make a delay longer than max.
func WithPollInterval(min, max time.Duration) WaitOption {
	return func(c *waitConfig) {
		if min > 0 {
			c.min = min
		}
		if max > 0 {
			c.max = max
		}
	}
}

// WithBackoffMultiplier sets how much each delay grows over the last
// (default 1.5; 1 polls at a fixed interval).
func WithBackoffMultiplier(f float64) WaitOption {
	return func(c *waitConfig) {
		if f >= 1 {
			c.multiplier = f
		}
	}
}

// WithJitter sets how much each delay is spread at random, as a fraction
// (default 0.2: ±20%). 0 turns jitter off.
func WithJitter(f float64) WaitOption {
	return func(c *waitConfig) {
		if f >= 0 && f < 1 {
			c.jitter = f
		}
	}
}

// WithMaxWait bounds the whole wait. When it runs out, the wait returns
// the last export seen and an error matching [ErrWaitTimeout].
func WithMaxWait(d time.Duration) WaitOption {
	return func(c *waitConfig) {
		if d > 0 {
			c.maxWait = d
		}
	}
}

// WithOnPoll calls f after every status read, with the export as read, for
// progress lines and metrics. f runs on the waiting goroutine: keep it short.
func WithOnPoll(f func(Export)) WaitOption {
	return func(c *waitConfig) { c.onPoll = f }
}

// WithNotFoundGrace sets how long after a wait starts a 404 is taken for an
// eventually consistent API and polled through (default 10 s; 0 makes the
// first 404 final).
func WithNotFoundGrace(d time.Duration) WaitOption {
	return func(c *waitConfig) {
		if d >= 0 {
			c.notFoundGrace = d
		}
	}
}

// WithConcurrency bounds how many waits [Client.WaitAll] runs at once
// (default 16).
func WithConcurrency(n int) WaitOption {
	return func(c *waitConfig) {
		if n > 0 {
			c.concurrency = n
		}
	}
}

// defaultWaitConfig is the schedule every wait starts from, before the
// client's WithDefaultWait options and the call's own.
func defaultWaitConfig() waitConfig {
	return waitConfig{
		min: DefaultPollMin, max: DefaultPollMax,
		multiplier: DefaultPollMultiplier, jitter: DefaultPollJitter,
		notFoundGrace: DefaultNotFoundGrace, concurrency: 16,
	}
}

// waitConfig applies a call's options on top of the client's defaults.
func (c *Client) waitConfig(opts []WaitOption) waitConfig {
	cfg := c.wait
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.max < cfg.min {
		cfg.max = cfg.min
	}
	return cfg
}

// delay returns the n-th delay (n ≥ 1) of the schedule, jittered.
func (cfg *waitConfig) delay(n int) time.Duration {
	d := float64(cfg.min)
	for i := 1; i < n && d < float64(cfg.max); i++ {
		d *= cfg.multiplier
	}
	d = min(d, float64(cfg.max))
	if cfg.jitter > 0 {
		d *= 1 + cfg.jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

// pollTarget is what a vendor plugs into the polling core: how to read the
// status once, and what to save in a resume token.
type pollTarget struct {
	vendor  Vendor
	id      string
	started time.Time // for the not-found grace window
	state   resumeState
	// read reads the status once. retryAfter is the server's Retry-After
	// (from an error or a successful response), 0 when absent.
	read func(ctx context.Context) (e Export, retryAfter time.Duration, err error)
}

// waitAs runs the polling core and returns the last export as T.
func waitAs[T Export](ctx context.Context, c *Client, t *pollTarget, opts []WaitOption) (T, error) {
	e, err := c.poll(ctx, t, c.waitConfig(opts))
	v, _ := e.(T)
	return v, err
}

// poll is the polling core: read at once, then on the backoff schedule,
// with Retry-After as a floor, until a terminal state, a final error, the
// context's end or the maximum wait.
func (c *Client) poll(ctx context.Context, t *pollTarget, cfg waitConfig) (Export, error) {
	start := time.Now()
	var deadline time.Time
	if cfg.maxWait > 0 {
		deadline = start.Add(cfg.maxWait)
	}
	var (
		last  Export
		floor time.Duration // the server's Retry-After for the next read
	)
	for n := 0; ; n++ {
		if n > 0 {
			d := max(cfg.delay(n), floor)
			if err := c.sleep(ctx, t, d, floor, deadline, cfg.maxWait); err != nil {
				return last, err
			}
		}
		e, ra, err := t.read(ctx)
		floor = ra
		c.log.LogAttrs(ctx, slog.LevelDebug, "exportkit: poll",
			slog.String("vendor", string(t.vendor)), slog.String("id", t.id), slog.Int("attempt", n+1),
			slog.String("state", stateOf(e)), slog.Duration("retry_after", ra), slog.Any("error", errText(err)))
		if e != nil {
			last = e
			if cfg.onPoll != nil {
				cfg.onPoll(e)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return last, opError(t.vendor, "wait", t.id, ctx.Err())
			}
			if final(err, time.Since(t.started) < cfg.notFoundGrace) {
				return last, err
			}
			var ae *APIError
			if errors.As(err, &ae) && ae.RetryAfter > floor {
				floor = ae.RetryAfter
			}
			continue
		}
		if e.State().Terminal() {
			return e, e.Err()
		}
	}
}

// sleep waits d before the next read. It returns at once, without
// sleeping, when the server's floor is longer than the time left; and it
// never sleeps past the context or the maximum wait.
func (c *Client) sleep(ctx context.Context, t *pollTarget, d, floor time.Duration, deadline time.Time, maxWait time.Duration) error {
	left, limitedBy := time.Duration(-1), ""
	if !deadline.IsZero() {
		left, limitedBy = time.Until(deadline), "max"
	}
	if dl, ok := ctx.Deadline(); ok && (left < 0 || time.Until(dl) < left) {
		left, limitedBy = time.Until(dl), "ctx"
	}
	if left >= 0 && floor > left {
		err := fmt.Errorf("server asked to wait %s, more than the %s left: %w", floor, left.Round(time.Millisecond), ErrRateLimited)
		if limitedBy == "max" {
			err = fmt.Errorf("%w: %w", ErrWaitTimeout, err)
		}
		return opError(t.vendor, "wait", t.id, err)
	}
	if limitedBy == "max" && d >= left {
		d = max(left, 0)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return opError(t.vendor, "wait", t.id, ctx.Err())
	case <-timer.C:
	}
	if limitedBy == "max" && !time.Now().Before(deadline) {
		return opError(t.vendor, "wait", t.id, fmt.Errorf("%w after %s", ErrWaitTimeout, maxWait))
	}
	return nil
}

// final reports whether an error ends a wait. Unauthorized, forbidden,
// superseded, bad input and other client errors do; not found does once
// the grace window is over; not ready, rate limits, 5xx after retries and
// connection errors do not, while time remains.
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
	return errors.As(err, &ie)
}

// inputError marks an error in what the caller passed, found before any
// request: waiting longer cannot fix it.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

func stateOf(e Export) string {
	if e == nil {
		return ""
	}
	return string(e.State())
}

func errText(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

// Wait polls any export a service returned until it reaches a terminal
// state, with the same schedule and errors as the services' Wait methods.
// A Kore export returned by StartExport is checked against the bot's
// status: another export replacing it fails with [ErrExportSuperseded].
func (c *Client) Wait(ctx context.Context, e Export, opts ...WaitOption) (Export, error) {
	t, err := c.targetFor(e)
	if err != nil {
		return e, err
	}
	return c.poll(ctx, t, c.waitConfig(opts))
}

// resumeState is what a resume token holds: enough to take a wait up again.
type resumeState struct {
	Vendor     Vendor `json:"v"`
	Kind       string `json:"k"`
	ID         string `json:"id,omitempty"`
	AudienceID string `json:"a,omitempty"`
	RunID      string `json:"r,omitempty"`
	BotID      string `json:"b,omitempty"`
}

// Kinds of wait a resume token can hold.
const (
	kindLogExport      = "log"
	kindMemoryExport   = "memory"
	kindAudienceRun    = "run"
	kindAudienceExport = "audience-export"
	kindBotExport      = "bot"
)
