package exportkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBadResumeToken: a resume token given to [Client.ResumeWait] or
// [Client.ResumeWaiter] is malformed, altered, of an unknown version, or
// names ids this version would not send.
var ErrBadResumeToken = errors.New("exportkit: bad resume token")

// Waiter is a wait on one export that can be saved and taken up again after
// a restart. Create it with [Client.NewWaiter] or [Client.ResumeWaiter];
// save [Waiter.ResumeToken] where the work's state is kept, and after a
// restart call [Client.ResumeWait] with it.
//
// A Waiter is safe for concurrent use: ResumeToken may be called while
// Wait runs (from a shutdown handler, say).
type Waiter struct {
	c     *Client
	t     *pollTarget
	opts  []WaitOption
	given Export // the export NewWaiter was given; nil for a resumed waiter
}

// NewWaiter returns a waiter on any export a service returned, with the
// options every [Waiter.Wait] call uses. For a Kore export returned by
// StartExport, the waiter (and its resume token) remembers the export's _id
// and reports [ErrExportSuperseded] when another export replaces it. The
// not-found grace counts from NewWaiter.
func (c *Client) NewWaiter(e Export, opts ...WaitOption) (*Waiter, error) {
	t, err := c.targetFor(e)
	if err != nil {
		return nil, err
	}
	if _, err := c.waitConfigFor(t, opts); err != nil {
		return nil, err
	}
	return &Waiter{c: c, t: t, opts: opts, given: e}, nil
}

// Wait polls until the export reaches a terminal state, with the same
// schedule, errors and results as [Client.Wait]. It may be called again,
// after an error, to go on waiting.
func (w *Waiter) Wait(ctx context.Context) (Export, error) {
	e, err := w.c.waitOn(ctx, w.t, w.opts)
	if e == nil && w.given != nil {
		e = w.given
	}
	return e, err
}

// Poll reads the export's status once, at once, and returns it as read: one
// step of [Waiter.Wait], for callers that keep the schedule themselves (a
// durable workflow's timers between short status reads, say, with
// [PollSchedule] for the delays). A failed, expired or canceled export is
// returned with a nil error: its Err says why. The error is the read's
// own: a 404 is returned as such (no not-found grace), a 429 as an
// [*APIError] with its RetryAfter. A Kore export that another replaced is
// returned with an error matching [ErrExportSuperseded].
func (w *Waiter) Poll(ctx context.Context) (Export, error) {
	e, _, err := w.t.read(ctx)
	return e, err
}

// ResumeToken returns an opaque, URL-safe string that [Client.ResumeWait]
// takes up again, in this process or another. It names the vendor, the kind
// of wait, the ids and when the wait began; it holds no credential and no
// URL, so it may be stored in plain sight. A checksum makes a damaged or
// edited token fail with [ErrBadResumeToken] rather than wait on the wrong
// export; it is not a signature: anyone can make a token, and it gives no
// more access than the ids it names and the client's credentials.
func (w *Waiter) ResumeToken() (string, error) {
	st := w.t.state
	if !w.t.started.IsZero() {
		st.Started = w.t.started.UnixMilli()
	}
	return encodeToken(st)
}

// ResumeWaiter returns the waiter a resume token was made from, with opts
// for its waits. A malformed, altered or unknown-version token is an error
// matching [ErrBadResumeToken].
func (c *Client) ResumeWaiter(token string, opts ...WaitOption) (*Waiter, error) {
	st, err := decodeToken(token)
	if err != nil {
		return nil, err
	}
	t := c.targetFromState(st)
	if _, err := c.waitConfigFor(t, opts); err != nil {
		return nil, err
	}
	return &Waiter{c: c, t: t, opts: opts}, nil
}

// ResumeWait takes up a wait saved with [Waiter.ResumeToken], in this
// process or after a restart, and polls until a terminal state like
// [Client.Wait]: the first read comes at once. [WithMaxWait] counts from
// this call; the not-found grace from when the original wait began, so a
// 404 for an export that existed is final. A malformed, altered or
// unknown-version token is an error matching [ErrBadResumeToken].
func (c *Client) ResumeWait(ctx context.Context, token string, opts ...WaitOption) (Export, error) {
	w, err := c.ResumeWaiter(token, opts...)
	if err != nil {
		return nil, err
	}
	return w.Wait(ctx)
}

// Resume tokens are "ek1." + base64url(JSON of resumeState) + "." +
// base64url(the first 8 bytes of SHA-256 of what precedes the last dot).
const (
	tokenPrefix   = "ek1."
	tokenSumBytes = 8
	maxTokenLen   = 16 << 10
)

var b64 = base64.RawURLEncoding

func encodeToken(st resumeState) (string, error) {
	if err := st.validate(); err != nil {
		return "", fmt.Errorf("exportkit: resume token: %w", err)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("exportkit: resume token: %w", err)
	}
	body := tokenPrefix + b64.EncodeToString(raw)
	return body + "." + tokenSum(body), nil
}

func tokenSum(body string) string {
	sum := sha256.Sum256([]byte(body))
	return b64.EncodeToString(sum[:tokenSumBytes])
}

func decodeToken(token string) (resumeState, error) {
	bad := func(format string, args ...any) (resumeState, error) {
		return resumeState{}, fmt.Errorf("%w: %s", ErrBadResumeToken, fmt.Sprintf(format, args...))
	}
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return bad("empty")
	case len(token) > maxTokenLen:
		return bad("longer than %d bytes", maxTokenLen)
	case !strings.HasPrefix(token, "ek"):
		return bad("not an exportkit resume token")
	case !strings.HasPrefix(token, tokenPrefix):
		v, _, _ := strings.Cut(token, ".")
		return bad("version %q is not supported by this version of exportkit (want %q)", excerpt(v, 16), strings.TrimSuffix(tokenPrefix, "."))
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < len(tokenPrefix) {
		return bad("no checksum")
	}
	body, sum := token[:dot], token[dot+1:]
	if sum != tokenSum(body) {
		return bad("checksum does not match: the token was damaged or edited")
	}
	raw, err := b64.DecodeString(body[len(tokenPrefix):])
	if err != nil {
		return bad("not base64url")
	}
	var st resumeState
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return bad("cannot decode")
	}
	if err := st.validate(); err != nil {
		return resumeState{}, fmt.Errorf("%w: %w", ErrBadResumeToken, err)
	}
	return st, nil
}

// validate checks that a resume state names a kind of wait this version
// knows, for its vendor, with the ids that kind has (each one a valid path
// segment, by the rules every request applies) and no others.
func (st *resumeState) validate() error {
	const (
		no = iota
		optional
		required
	)
	type shape struct {
		vendor                 Vendor
		id, audience, run, bot int
	}
	kinds := map[string]shape{
		kindLogExport:      {vendor: Brainbase, id: required},
		kindMemoryExport:   {vendor: Memsolus, id: required},
		kindAudienceRun:    {vendor: Orbit, id: required, audience: required},
		kindAudienceExport: {vendor: Orbit, id: required, audience: required, run: required},
		kindBotExport:      {vendor: Kore, id: optional, bot: required},
	}
	k, ok := kinds[st.Kind]
	switch {
	case !ok:
		return fmt.Errorf("unknown kind of wait %q", excerpt(st.Kind, 32))
	case st.Vendor != k.vendor:
		return fmt.Errorf("kind %q is not a %q wait", st.Kind, excerpt(string(st.Vendor), 32))
	case st.Started < 0:
		return errors.New("negative start time")
	case st.Created < 0:
		return errors.New("negative creation time")
	case st.Created != 0 && (st.Kind != kindBotExport || st.ID == ""):
		return fmt.Errorf("a %q wait has no creation time", st.Kind)
	}
	for _, f := range []struct {
		what, v string
		rule    int
	}{
		{"id", st.ID, k.id}, {"audience id", st.AudienceID, k.audience},
		{"run id", st.RunID, k.run}, {"bot id", st.BotID, k.bot},
	} {
		switch {
		case f.v == "" && f.rule != required:
		case f.v != "" && f.rule == no:
			return fmt.Errorf("a %q wait has no %s", st.Kind, f.what)
		default:
			if _, err := segment(f.what, f.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// targetFromState plugs a decoded resume state into the polling core.
func (c *Client) targetFromState(st resumeState) *pollTarget {
	started := time.UnixMilli(st.Started)
	if st.Started == 0 {
		started = time.Now()
	}
	switch st.Kind {
	case kindLogExport:
		return c.Exports.target(st.ID, started)
	case kindMemoryExport:
		return c.Memories.target(st.ID, started)
	case kindAudienceRun:
		return c.Audiences.runTarget(st.AudienceID, st.ID, started)
	case kindAudienceExport:
		return c.Audiences.exportTarget(ExportRef{AudienceID: st.AudienceID, RunID: st.RunID, ExportID: st.ID}, started)
	default: // kindBotExport: validate knows no other
		ours := startedExport{id: st.ID}
		if st.Created != 0 {
			t := time.UnixMilli(st.Created).UTC()
			ours.created = &t
		}
		return c.Bots.target(st.BotID, ours, started)
	}
}

// WaitResult is the outcome of one wait of [Client.WaitAll]: the last
// export seen (the one given, when no status could be read) and the error,
// as [Client.Wait] returns them.
type WaitResult struct {
	Export Export
	Err    error
}

// WaitAll waits on many exports, from any vendors, and returns one result
// per export, in the same order. At most [WithConcurrency] waits (default
// 16) run at once; they share the client's connection pools and rate
// limiters, so a vendor's pacing holds across all of them. [WithMaxWait]
// bounds the whole call: every wait shares one deadline counted from the
// call. [WithOnPoll] is called for every read of every wait, one call at a
// time. When ctx ends, every wait returns at once with the context's error;
// WaitAll returns only after all its goroutines have ended. A bad option
// fails every wait with an error matching [ErrInvalidInput], before any
// request.
func (c *Client) WaitAll(ctx context.Context, exports []Export, opts ...WaitOption) []WaitResult {
	results := make([]WaitResult, len(exports))
	if len(exports) == 0 {
		return results
	}
	if err := checkContext(ctx); err != nil {
		for i, e := range exports {
			results[i] = WaitResult{Export: e, Err: err}
		}
		return results
	}
	cfg, err := c.waitConfig(opts)
	if err != nil {
		// A bad option fails every wait, before any request.
		for i, e := range exports {
			results[i] = WaitResult{Export: e, Err: fmt.Errorf("exportkit: wait all: %w", err)}
		}
		return results
	}
	if cfg.maxWait > 0 {
		cfg.deadline = time.Now().Add(cfg.maxWait)
	}
	if f := cfg.onPoll; f != nil {
		var mu sync.Mutex
		cfg.onPoll = func(e Export) {
			mu.Lock()
			defer mu.Unlock()
			f(e)
		}
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(cfg.concurrency, len(exports)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(exports) {
					return
				}
				results[i] = c.waitOne(ctx, exports[i], cfg)
			}
		})
	}
	wg.Wait()
	return results
}

// waitOne is one wait of WaitAll.
func (c *Client) waitOne(ctx context.Context, e Export, cfg waitConfig) WaitResult {
	t, err := c.targetFor(e)
	if err != nil {
		return WaitResult{Export: e, Err: err}
	}
	if ctx.Err() != nil {
		w := &waiting{c: c, t: t, cfg: &cfg}
		return WaitResult{Export: e, Err: w.stopped(ctx)}
	}
	got, err := c.poll(ctx, t, cfg)
	if got == nil {
		got = e
	}
	return WaitResult{Export: got, Err: err}
}
