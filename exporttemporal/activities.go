package exporttemporal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/exportkit/exportkit"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// Activities are exportkit's calls as Temporal activities. Register them
// from one value, with [Register] or worker.RegisterActivity: every
// exported method is an activity, named after the method.
//
// Sinks are the download destinations other than a path, by name; set them
// before the worker starts and do not change them after.
type Activities struct {
	Sinks map[string]Sink
	// Temporal is the client [Activities.AwaitPreviousRun] asks about a
	// job's previous run with; [JobRunWorkflow] needs it. Set it before
	// the worker starts (the worker's own client will do).
	Temporal client.Client

	client *exportkit.Client
}

// NewActivities returns the activities, calling the vendors through client
// (its credentials, retries, rate limits and logger).
func NewActivities(client *exportkit.Client) *Activities {
	return &Activities{client: client}
}

// Register registers [ExportWorkflow], [JobRunWorkflow] and the
// activities a on r, a worker.
func Register(r worker.Registry, a *Activities) {
	r.RegisterWorkflow(ExportWorkflow)
	r.RegisterWorkflow(JobRunWorkflow)
	r.RegisterActivity(a)
}

// CreateExport creates the export req describes and returns it.
//
// A retried CreateExport may create the export again, vendor by vendor:
// Orbit's run creation carries an Idempotency-Key (req's, or one derived
// from the workflow execution and this activity's id), so a retry returns
// the same run. Brainbase and Memsolus have no idempotency key: a retry
// after a request that reached the vendor (the worker died before
// reporting, or the response was lost) creates a second export job, which
// nobody uses. Kore keeps one export per bot: a retry starts an export
// that replaces the first. exportkit itself never resends a create request
// that may have reached the server.
func (a *Activities) CreateExport(ctx context.Context, req CreateRequest) (ExportInfo, error) {
	if err := a.check(); err != nil {
		return ExportInfo{}, asTemporal(ctx, err)
	}
	v, err := req.Vendor()
	if err != nil {
		return ExportInfo{}, asTemporal(ctx, err)
	}
	var e exportkit.Export
	switch v {
	case exportkit.Brainbase:
		var x *exportkit.LogExport
		if x, err = a.client.Exports.Create(ctx, req.Brainbase); err == nil {
			e = x
		}
	case exportkit.Memsolus:
		var x *exportkit.MemoryExport
		if x, err = a.client.Memories.Create(ctx, req.Memsolus); err == nil {
			e = x
		}
	case exportkit.Orbit:
		key := req.Orbit.IdempotencyKey
		if key == "" {
			key = idempotencyKey(activity.GetInfo(ctx))
		}
		var x *exportkit.AudienceRun
		if x, err = a.client.Audiences.CreateRun(ctx, req.Orbit.AudienceID,
			&exportkit.RunRequest{RunType: req.Orbit.RunType, IdempotencyKey: key}); err == nil {
			e = x
		}
	default:
		var x *exportkit.BotExport
		if x, err = a.client.Bots.StartExport(ctx, req.Kore.BotID, req.Kore.Request); err == nil {
			e = x
		}
	}
	if err != nil {
		return ExportInfo{}, asTemporal(ctx, err)
	}
	info, err := NewExportInfo(e, a.client)
	return info, asTemporal(ctx, err)
}

// idempotencyKey derives Orbit's Idempotency-Key from what every attempt
// of one activity shares: the namespace, the workflow execution and the
// activity id.
func idempotencyKey(info activity.Info) string {
	sum := sha256.Sum256([]byte(info.Namespace + "\x00" + info.WorkflowExecution.ID + "\x00" +
		info.WorkflowExecution.RunID + "\x00" + info.ActivityID))
	return "exporttemporal-" + hex.EncodeToString(sum[:16])
}

// ExportStatus reads the export's status once and returns it, for
// workflows that wait with durable timers between short activities.
//
// A failed, expired or canceled export is a non-retryable error
// ([ErrTypeExportFailed], …) whose details hold the export as read. A 404
// is retried for [exportkit.DefaultNotFoundGrace] after info.Created (an
// eventually consistent API that has not seen the export yet), then is
// final ([ErrTypeNotFound]). A completed Orbit run is not returned as
// ready: ExportStatus creates (or reuses) its CSV export, idempotently,
// and returns that, so that the caller goes on waiting on the file.
func (a *Activities) ExportStatus(ctx context.Context, info ExportInfo) (ExportInfo, error) {
	if err := a.check(); err != nil {
		return info, asTemporal(ctx, err)
	}
	w, err := a.client.ResumeWaiter(info.Token)
	if err != nil {
		return info, asTemporal(ctx, err)
	}
	e, err := w.Poll(ctx)
	if err != nil {
		if errors.Is(err, exportkit.ErrNotFound) && time.Since(info.Created) < exportkit.DefaultNotFoundGrace {
			return info, asTemporal(ctx, fmt.Errorf("not found yet, within the grace: %w", exportkit.ErrNotReady))
		}
		return info, asTemporal(ctx, err)
	}
	info.update(e)
	if err := e.Err(); err != nil {
		return info, asTemporal(ctx, err, info)
	}
	next, err := a.nextStage(ctx, e)
	if err != nil || next == nil {
		return info, asTemporal(ctx, err)
	}
	return *next, nil
}

// nextStage returns the export that follows e, when e is ready but has no
// file of its own: a completed Orbit run, whose CSV export it creates (or
// reuses: the call is idempotent). nil for any other export. This is the
// one place that knows a vendor type, because an Orbit export is two jobs.
func (a *Activities) nextStage(ctx context.Context, e exportkit.Export) (*ExportInfo, error) {
	run, ok := e.(*exportkit.AudienceRun)
	if !ok || run.State() != exportkit.StateReady {
		return nil, nil
	}
	x, err := a.client.Audiences.CreateExport(ctx, run.AudienceID, run.ID)
	if err != nil {
		return nil, err
	}
	info, err := NewExportInfo(x, a.client)
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// waitHeartbeat is what WaitExport heartbeats: enough for a retry, on any
// worker, to take the wait up where it was.
type waitHeartbeat struct {
	Export ExportInfo // its Token is the wait's; for Orbit, past the run once its export exists
	Polls  int
}

// WaitExport waits in one activity until the export is ready, polling on
// req.Schedule, and returns it. It heartbeats the export's resume token
// after every status read and between reads, so give it a heartbeat
// timeout: a retry, on this worker or another, takes the wait up from the
// last heartbeat (for Orbit, past the run once its export exists) instead
// of starting over. Errors are [ExportStatus]'s.
func (a *Activities) WaitExport(ctx context.Context, req WaitRequest) (WaitOutput, error) {
	if err := a.check(); err != nil {
		return WaitOutput{}, asTemporal(ctx, err)
	}
	hb := &heartbeater{ctx: ctx, state: waitHeartbeat{Export: req.Export}}
	if activity.HasHeartbeatDetails(ctx) {
		var last waitHeartbeat
		if err := activity.GetHeartbeatDetails(ctx, &last); err == nil && last.Export.Token != "" {
			hb.state = last
			activity.GetLogger(ctx).Info("exporttemporal: wait taken up from the last heartbeat",
				"vendor", last.Export.Vendor, "id", last.Export.ID, "polls", last.Polls)
		}
	}
	stop := hb.keepAlive()
	defer stop()

	s := normalize(req.Schedule)
	opts := []exportkit.WaitOption{
		exportkit.WithPollInterval(s.Min, s.Max), exportkit.WithBackoffMultiplier(s.Multiplier),
		exportkit.WithJitter(s.Jitter), exportkit.WithOnPoll(hb.polled),
	}
	if !req.Deadline.IsZero() {
		left := time.Until(req.Deadline)
		if left <= 0 {
			return WaitOutput{}, asTemporal(ctx, fmt.Errorf("deadline %s passed: %w", req.Deadline.Format(time.RFC3339), exportkit.ErrWaitTimeout))
		}
		opts = append(opts, exportkit.WithMaxWait(left))
	}
	for {
		st := hb.get()
		w, err := a.client.ResumeWaiter(st.Export.Token, opts...)
		if err != nil {
			return WaitOutput{}, asTemporal(ctx, err)
		}
		e, err := w.Wait(ctx)
		st = hb.get()
		if e != nil {
			st.Export.update(e)
		}
		if err != nil {
			return WaitOutput{}, asTemporal(ctx, err, st.Export)
		}
		next, err := a.nextStage(ctx, e)
		if err != nil {
			return WaitOutput{}, asTemporal(ctx, err, st.Export)
		}
		if next == nil {
			return WaitOutput(st), nil
		}
		hb.set(func(s *waitHeartbeat) { s.Export = *next })
		hb.beat()
	}
}

// heartbeater keeps an activity's heartbeat details and sends them after
// every step and on a ticker between steps, so that a long poll delay or a
// stalled transfer does not look like a lost worker.
type heartbeater struct {
	ctx   context.Context
	mu    sync.Mutex
	state waitHeartbeat
}

func (h *heartbeater) get() waitHeartbeat {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

func (h *heartbeater) set(f func(*waitHeartbeat)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.state)
}

// polled is the wait's OnPoll: count the read, keep its state, heartbeat.
func (h *heartbeater) polled(e exportkit.Export) {
	h.set(func(s *waitHeartbeat) {
		s.Polls++
		if e.ExportID() == s.Export.ID {
			s.Export.update(e)
		}
	})
	h.beat()
}

func (h *heartbeater) beat() { activity.RecordHeartbeat(h.ctx, h.get()) }

// keepAlive heartbeats on a ticker until stop is called.
func (h *heartbeater) keepAlive() (stop func()) {
	return keepAlive(h.ctx, h.beat)
}

// keepAlive calls beat every third of the activity's heartbeat timeout
// (every 10 s without one) until stop is called.
func keepAlive(ctx context.Context, beat func()) (stop func()) {
	every := activity.GetInfo(ctx).HeartbeatTimeout / 3
	if every <= 0 {
		every = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() { cancel(); <-done }
}

// downloadHeartbeat is what DownloadExport heartbeats.
type downloadHeartbeat struct {
	Done, Total int64
}

// DownloadExport downloads the ready export's file to req.Destination and
// heartbeats the progress, so give it a heartbeat timeout. It reads the
// export's status first, for a fresh signed URL.
//
// A Path's directory is made when missing. A retry writes to the same
// destination: to a Path, exportkit's DownloadFile takes up what an
// earlier attempt left where it can (a partial file and its state beside
// it) and starts over cleanly where it cannot; a Sink is given the whole
// file again. A failed or expired export
// is a non-retryable error; bytes that do not verify are retried.
func (a *Activities) DownloadExport(ctx context.Context, req DownloadRequest) (DownloadOutput, error) {
	if err := a.check(); err != nil {
		return DownloadOutput{}, asTemporal(ctx, err)
	}
	dst := req.Destination
	var sink Sink
	switch {
	case dst.Path != "" && dst.Sink != "":
		return DownloadOutput{}, asTemporal(ctx, invalid(errors.New("exporttemporal: download: both a path and a sink")))
	case dst.Path == "" && dst.Sink == "":
		return DownloadOutput{}, asTemporal(ctx, invalid(errors.New("exporttemporal: download: no destination")))
	case dst.Sink != "":
		if sink = a.Sinks[dst.Sink]; sink == nil {
			return DownloadOutput{}, asTemporal(ctx, invalid(fmt.Errorf("exporttemporal: download: no sink %q registered", dst.Sink)))
		}
		if dst.Key == "" {
			dst.Key = fmt.Sprintf("%s-%s", req.Export.Vendor, req.Export.ID)
		}
	}
	out := DownloadOutput{Destination: dst, Attempt: activity.GetInfo(ctx).Attempt}
	var earlier downloadHeartbeat
	if activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &earlier) == nil {
		out.EarlierDone = earlier.Done
	}

	w, err := a.client.ResumeWaiter(req.Export.Token)
	if err != nil {
		return out, asTemporal(ctx, err)
	}
	e, err := w.Poll(ctx)
	if err != nil {
		return out, asTemporal(ctx, err)
	}
	info := req.Export
	info.update(e)
	if err := e.Err(); err != nil {
		return out, asTemporal(ctx, err, info)
	}
	if e.State() != exportkit.StateReady {
		return out, asTemporal(ctx, fmt.Errorf("exporttemporal: download %s %q: state %s: %w", e.Vendor(), e.ExportID(), e.State(), exportkit.ErrNotReady))
	}

	var mu sync.Mutex
	progress := downloadHeartbeat{Total: e.Size()}
	beat := func() {
		mu.Lock()
		p := progress
		mu.Unlock()
		activity.RecordHeartbeat(ctx, p)
	}
	stop := keepAlive(ctx, beat)
	defer stop()
	opts := []exportkit.DownloadOption{exportkit.WithProgress(func(p exportkit.Progress) {
		mu.Lock()
		progress = downloadHeartbeat{Done: p.Done, Total: p.Total}
		mu.Unlock()
		beat()
	})}

	var res *exportkit.DownloadResult
	if sink == nil {
		if err := os.MkdirAll(filepath.Dir(dst.Path), 0o755); err != nil {
			return out, asTemporal(ctx, err)
		}
		res, err = a.client.DownloadFile(ctx, e, dst.Path, opts...)
	} else {
		res, err = putToSink(ctx, a.client, e, sink, dst.Key, opts)
	}
	if err != nil {
		return out, asTemporal(ctx, err)
	}
	out.DownloadResult = *res
	return out, nil
}

// putToSink streams the download into sink.Put through a pipe: the bytes
// go straight from the storage host to the sink, never whole in memory. A
// download that fails or does not verify reaches Put as a read error.
func putToSink(ctx context.Context, c *exportkit.Client, e exportkit.Export, sink Sink, key string, opts []exportkit.DownloadOption) (*exportkit.DownloadResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	putErr := make(chan error, 1)
	go func() {
		err := sink.Put(ctx, key, pr)
		if err == nil {
			// Put must read to the end: bytes left would go nowhere, and
			// the end is where a failed verification shows.
			var one [1]byte
			switch n, rerr := pr.Read(one[:]); {
			case n > 0:
				err = errors.New("returned before the end of the file")
			case rerr != io.EOF:
				err = rerr
			}
		}
		pr.CloseWithError(errSinkStopped)
		putErr <- err
	}()
	res, err := c.Download(ctx, e, pw, opts...)
	if err != nil {
		pw.CloseWithError(err)
	} else {
		pw.Close()
	}
	perr := <-putErr
	switch {
	case err != nil && !errors.Is(err, errSinkStopped):
		return nil, err
	case perr != nil:
		return nil, fmt.Errorf("exporttemporal: sink: put %q: %w", key, perr)
	case err != nil:
		return nil, err
	}
	return res, nil
}

// errSinkStopped is what the download's writes get once the sink stopped
// reading.
var errSinkStopped = errors.New("exporttemporal: sink stopped reading")

// check reports activities made without a client.
func (a *Activities) check() error {
	if a == nil || a.client == nil {
		return invalid(errors.New("exporttemporal: activities without a client: use NewActivities"))
	}
	return nil
}
