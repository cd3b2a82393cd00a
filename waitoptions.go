package exportkit

import (
	"fmt"
	"math"
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
	// DefaultMaxOutage is how long a wait rides out transient failures
	// (connection refused or reset, timeouts, 5xx after the request's
	// retries) once it has read the status at least once: long enough for
	// a deploy or a cold start of the vendor's API, short enough that a
	// wait on a host that went away for good fails the same morning.
	DefaultMaxOutage = 5 * time.Minute
	// DefaultWaitConcurrency is how many waits [Client.WaitAll] runs at once.
	DefaultWaitConcurrency = 16
)

// WaitOption configures a wait: Wait, WaitRun, WaitExport, Client.Wait,
// ResumeWait, WaitAll, NewWaiter and the client's [WithDefaultWait]. A bad
// value is an error matching [ErrInvalidInput], returned by the call (by
// NewClient for WithDefaultWait) before any request is sent.
type WaitOption func(*waitConfig) error

type waitConfig struct {
	schedule      PollSchedule
	maxWait       time.Duration
	maxOutage     time.Duration
	onPoll        func(Export)
	onRetry       func(err error, next time.Duration)
	notFoundGrace time.Duration
	concurrency   int
	deadline      time.Time // set by WaitAll: one maximum wait shared by all
}

// badOption is the error of a wait option given a value it does not take.
func badOption(name, format string, args ...any) error {
	return &inputError{fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))}
}

// WithPollInterval sets the first delay between status reads and the one
// the delays grow to (defaults 2 s and 15 s); 0 keeps the default of that
// bound (a max below the resulting min is raised to it). Each delay is
// then spread by the jitter (see [WithJitter]). A Retry-After from the
// server can make a delay longer than max: it is never shortened. A
// negative value, or a max below a non-zero min, is an error.
func WithPollInterval(min, max time.Duration) WaitOption {
	return func(c *waitConfig) error {
		switch {
		case min < 0 || max < 0:
			return badOption("WithPollInterval", "negative interval (%s, %s)", min, max)
		case min > 0 && max > 0 && max < min:
			return badOption("WithPollInterval", "max %s is less than min %s", max, min)
		}
		if min > 0 {
			c.schedule.Min = min
		}
		if max > 0 {
			c.schedule.Max = max
		}
		return nil
	}
}

// WithBackoffMultiplier sets how much each delay grows over the last
// (default 1.5; 1 polls at a fixed interval). A value below 1 is an error.
func WithBackoffMultiplier(f float64) WaitOption {
	return func(c *waitConfig) error {
		if !(f >= 1) || math.IsInf(f, 0) {
			return badOption("WithBackoffMultiplier", "%v is not a finite number of at least 1", f)
		}
		c.schedule.Multiplier = f
		return nil
	}
}

// WithJitter sets how far each delay is spread at random, as a fraction
// (default 0.2: ±20%), so that waits started together drift apart. The
// spread is triangular: most delays land near the schedule, few near its
// bounds. 0 turns jitter off; a value outside [0, 1) is an error.
func WithJitter(f float64) WaitOption {
	return func(c *waitConfig) error {
		if !(f >= 0 && f < 1) {
			return badOption("WithJitter", "%v is not in [0, 1)", f)
		}
		c.schedule.Jitter = f
		return nil
	}
}

// WithMaxWait bounds the whole wait, requests and their retries included.
// When it runs out, the wait returns the last export seen and an error
// matching [ErrWaitTimeout] ("timed out after 30s"). A Retry-After longer
// than the time left ends the wait at once with an error matching both
// [ErrWaitTimeout] and [ErrRateLimited]. For [AudiencesService.Export] it
// bounds the whole chain; for [Client.WaitAll], the whole call. 0 means no
// maximum (the default); a negative value is an error.
//
// The first status read comes before the maximum is checked, and is given
// at least 10 s (the context still bounds it): an export already in a
// terminal state is returned as it is, even under a maximum of 1 ms.
// [Client.WaitAll], whose maximum is shared, gives no such extra time.
func WithMaxWait(d time.Duration) WaitOption {
	return func(c *waitConfig) error {
		if d < 0 {
			return badOption("WithMaxWait", "negative duration %s", d)
		}
		c.maxWait = d
		return nil
	}
}

// WithMaxOutage sets how long transient failures (connection refused or
// reset, timeouts, 5xx and malformed answers after the request's own
// retries) are ridden out once the wait has read the status at least once
// (default [DefaultMaxOutage], 5 minutes). The budget counts from the
// first failed read of an outage and starts over after any read the server
// answered; when it runs out, the wait fails with the last error. 0 makes
// the first transient failure after the request's retries final; a
// negative value is an error.
//
// A host never reached is not an outage but a mistake (a wrong base URL,
// a host that does not exist, nothing listening): a wait that has not read
// the status once fails as soon as a read could not connect after the
// request's retries, with the cause ("connection refused").
func WithMaxOutage(d time.Duration) WaitOption {
	return func(c *waitConfig) error {
		if d < 0 {
			return badOption("WithMaxOutage", "negative duration %s", d)
		}
		c.maxOutage = d
		return nil
	}
}

// WithOnRetry calls f each time a wait rides out a transient failure (see
// [WithMaxOutage]), with the error of the failed read and the delay before
// the next one, so that a command line can show "retrying: <cause>" while
// an outage lasts. f runs on the waiting goroutine: keep it short. The
// error's text is safe to show: no credential, no signed URL query.
func WithOnRetry(f func(err error, next time.Duration)) WaitOption {
	return func(c *waitConfig) error { c.onRetry = f; return nil }
}

// WithOnPoll calls f after every status read, with the export as read, for
// progress lines and metrics. f runs on the waiting goroutine: keep it short.
func WithOnPoll(f func(Export)) WaitOption {
	return func(c *waitConfig) error { c.onPoll = f; return nil }
}

// WithNotFoundGrace sets how long after a wait starts (or, in
// [AudiencesService.Export], after the export is created) a 404 is taken
// for an eventually consistent API and polled through (default 10 s; 0
// makes the first 404 final; a negative value is an error). A resumed
// wait counts from when the original wait started.
func WithNotFoundGrace(d time.Duration) WaitOption {
	return func(c *waitConfig) error {
		if d < 0 {
			return badOption("WithNotFoundGrace", "negative duration %s", d)
		}
		c.notFoundGrace = d
		return nil
	}
}

// WithConcurrency bounds how many waits [Client.WaitAll] runs at once
// (default [DefaultWaitConcurrency], 16). A value below 1 is an error.
func WithConcurrency(n int) WaitOption {
	return func(c *waitConfig) error {
		if n < 1 {
			return badOption("WithConcurrency", "%d is less than 1", n)
		}
		c.concurrency = n
		return nil
	}
}

// defaultWaitConfig is the schedule every wait starts from, before the
// client's WithDefaultWait options and the call's own.
func defaultWaitConfig() waitConfig {
	return waitConfig{
		schedule:      DefaultPollSchedule(),
		notFoundGrace: DefaultNotFoundGrace, maxOutage: DefaultMaxOutage,
		concurrency: DefaultWaitConcurrency,
	}
}

// apply applies opts in order; a nil option is skipped. The error, when
// an option refuses its value, matches ErrInvalidInput and has no prefix:
// the caller adds its own.
func (cfg *waitConfig) apply(opts []WaitOption) error {
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(cfg); err != nil {
			return err
		}
	}
	if s := &cfg.schedule; s.Max < s.Min {
		s.Max = s.Min
	}
	return nil
}

// waitConfig applies a call's options on top of the client's defaults.
func (c *Client) waitConfig(opts []WaitOption) (waitConfig, error) {
	cfg := c.wait
	err := cfg.apply(opts)
	return cfg, err
}

// waitConfigFor is waitConfig for a wait on t: a bad option's error names
// t's vendor and id.
func (c *Client) waitConfigFor(t *pollTarget, opts []WaitOption) (waitConfig, error) {
	cfg, err := c.waitConfig(opts)
	if err != nil {
		return cfg, opError(t.vendor, "wait", t.id, err)
	}
	return cfg, nil
}
