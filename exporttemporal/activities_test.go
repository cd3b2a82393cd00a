package exporttemporal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

func activityEnv(a *Activities) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(quietLogger)
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return env
}

// create runs CreateExport for vendor v and returns the export.
func create(t *testing.T, a *Activities, v exportkit.Vendor) ExportInfo {
	t.Helper()
	val, err := activityEnv(a).ExecuteActivity(a.CreateExport, createFor(v))
	require.NoError(t, err)
	var info ExportInfo
	require.NoError(t, val.Get(&info))
	return info
}

// status runs ExportStatus once.
func status(a *Activities, info ExportInfo) (ExportInfo, error) {
	val, err := activityEnv(a).ExecuteActivity(a.ExportStatus, info)
	if err != nil {
		return ExportInfo{}, err
	}
	var out ExportInfo
	return out, val.Get(&out)
}

func TestCreateAndStatusForEveryVendor(t *testing.T) {
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			srv, c := newServer(t, exporttest.ReadyAfter(1))
			a := NewActivities(c)
			info := create(t, a, v)
			first := info.ID
			assert.Equal(t, v, info.Vendor)
			assert.NotEmpty(t, info.ID)
			assert.NotEmpty(t, info.Token)
			assert.False(t, info.State.Terminal())

			for range 4 {
				if info.State == exportkit.StateReady {
					break
				}
				var err error
				prev := info
				info, err = status(a, info)
				require.NoError(t, err)
				if info.State == exportkit.StateReady {
					assert.NotEqual(t, v == exportkit.Orbit, prev.ID == info.ID && prev.ID == first,
						"a completed Orbit run is never returned as ready: its export is")
				}
			}
			require.Equal(t, exportkit.StateReady, info.State)
			if v == exportkit.Orbit {
				assert.Equal(t, 1, logOf(srv).orbitExports, "the run's export, created once")
			}
			assert.Equal(t, 1, logOf(srv).creates)
			if v != exportkit.Memsolus { // Memsolus does not say
				assert.Positive(t, info.Size)
			}
		})
	}
}

func TestCreateOrbitRunIsIdempotentAcrossRetries(t *testing.T) {
	srv, c := newServer(t)
	a := NewActivities(c)
	// Two executions of the same activity (same workflow, same activity
	// id: what a retry is) send the same Idempotency-Key.
	first, second := create(t, a, exportkit.Orbit), create(t, a, exportkit.Orbit)
	assert.Equal(t, first.ID, second.ID, "the same run")
	var keys []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost {
			keys = append(keys, r.Header.Get("Idempotency-Key"))
		}
	}
	require.Len(t, keys, 2)
	assert.Equal(t, keys[0], keys[1])
	assert.True(t, strings.HasPrefix(keys[0], "exporttemporal-"))
}

func TestCreateRefusesAnAmbiguousRequest(t *testing.T) {
	_, c := newServer(t)
	a := NewActivities(c)
	for name, req := range map[string]CreateRequest{
		"none": {},
		"two":  {Brainbase: &exportkit.LogExportRequest{}, Kore: &KoreExportRequest{BotID: "b"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := activityEnv(a).ExecuteActivity(a.CreateExport, req)
			assertAppError(t, err, ErrTypeInvalidInput, true)
		})
	}
}

func TestStatusOfAFailedExportIsNonRetryable(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0))
	a := NewActivities(c)
	info := create(t, a, exportkit.Kore)
	require.NoError(t, srv.FailExport(exportkit.Kore, info.ID, "EXPORT_FAILED", "disk full"))
	_, err := status(a, info)
	ae := assertAppError(t, err, ErrTypeExportFailed, true)
	var got ExportInfo
	require.NoError(t, ae.Details(&got), "the details hold the export as read")
	assert.Equal(t, exportkit.StateFailed, got.State)
	assert.Equal(t, info.ID, got.ID)
}

func TestStatusNotFoundIsRetriedOnlyWithinTheGrace(t *testing.T) {
	_, c := newServer(t)
	a := NewActivities(c)
	info := create(t, a, exportkit.Brainbase)
	gone, err := c.NewWaiter(&exportkit.LogExport{ID: "exp_missing"})
	require.NoError(t, err)
	info.Token, err = gone.ResumeToken()
	require.NoError(t, err)

	_, err = status(a, info)
	assertAppError(t, err, ErrTypeNotReady, false)

	info.Created = time.Now().Add(-time.Minute)
	_, err = status(a, info)
	assertAppError(t, err, ErrTypeNotFound, true)
}

func TestStatus429CarriesTheRetryAfter(t *testing.T) {
	srv, c := newServer(t)
	a := NewActivities(c)
	info := create(t, a, exportkit.Orbit)
	require.NoError(t, srv.Inject(exporttest.On(exportkit.Orbit).Method("GET").Status(429).RetryAfter("90")))
	_, err := status(a, info)
	assertAppError(t, err, ErrTypeRateLimited, false)
	// The delay itself is checked through the workflow test environment,
	// which honours it (TestExportWorkflowRetriesA429AfterTheServersDelay).
}

// The wait takes up where the last heartbeat left it: for Orbit, past the
// run, on the export, without reading the run again or recreating the
// export, and counting the earlier attempt's reads.
func TestWaitExportResumesFromHeartbeatDetails(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(3))
	a := NewActivities(c)
	run := create(t, a, exportkit.Orbit)
	exp := run
	for polls := 1; exp.ID == run.ID; polls++ {
		require.Less(t, polls, 10)
		var err error
		exp, err = status(a, exp)
		require.NoError(t, err)
	}
	srv.ResetRequests()

	env := activityEnv(a)
	env.SetHeartbeatDetails(waitHeartbeat{Export: exp, Polls: 7})
	var beats int
	var mu sync.Mutex
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { mu.Lock(); beats++; mu.Unlock() })
	val, err := env.ExecuteActivity(a.WaitExport, WaitRequest{
		Export:   run, // what the workflow passed: the heartbeat wins
		Schedule: exportkit.PollSchedule{Min: time.Millisecond, Max: time.Millisecond, Multiplier: 1},
	})
	require.NoError(t, err)
	var out WaitOutput
	require.NoError(t, val.Get(&out))
	assert.Equal(t, exp.ID, out.Export.ID)
	assert.Equal(t, exportkit.StateReady, out.Export.State)

	l := logOf(srv)
	assert.Equal(t, 0, l.creates+l.orbitExports, "no create, no export creation")
	for _, r := range srv.Requests() {
		assert.Contains(t, r.Path, "/exports/"+exp.ID, "only the export is read, not the run")
	}
	assert.Equal(t, 7+l.statusReads, out.Polls, "the earlier attempt's reads count")
	mu.Lock()
	assert.Positive(t, beats, "heartbeats (the SDK throttles them)")
	mu.Unlock()
}

func TestWaitExportDeadlinePassed(t *testing.T) {
	_, c := newServer(t)
	a := NewActivities(c)
	info := create(t, a, exportkit.Brainbase)
	_, err := activityEnv(a).ExecuteActivity(a.WaitExport, WaitRequest{Export: info, Deadline: time.Now().Add(-time.Second)})
	assertAppError(t, err, ErrTypeWaitTimeout, true)
}

// memSink keeps what it was given, replacing on every Put like object
// storage does.
type memSink struct {
	mu   sync.Mutex
	objs map[string][]byte
	puts int
}

func (s *memSink) Put(_ context.Context, key string, r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.objs == nil {
		s.objs = map[string][]byte{}
	}
	s.objs[key] = b.Bytes()
	s.puts++
	return nil
}

func TestDownloadExportToASink(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0), exporttest.FileSize(1<<20))
	a := NewActivities(c)
	sink := &memSink{}
	a.Sinks = map[string]Sink{"mem": sink}
	info := create(t, a, exportkit.Memsolus)

	val, err := activityEnv(a).ExecuteActivity(a.DownloadExport, DownloadRequest{Export: info, Destination: Destination{Sink: "mem"}})
	require.NoError(t, err)
	var out DownloadOutput
	require.NoError(t, val.Get(&out))
	key := fmt.Sprintf("%s-%s", info.Vendor, info.ID)
	assert.Equal(t, key, out.Destination.Key)
	assert.Equal(t, srv.File(exportkit.Memsolus, info.ID), sink.objs[key])
	assert.Equal(t, int64(1<<20), out.Bytes)
}

func TestDownloadExportToASinkThatDoesNotVerify(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0), exporttest.FileSize(64<<10))
	a := NewActivities(c)
	sink := &memSink{}
	a.Sinks = map[string]Sink{"mem": sink}
	info := create(t, a, exportkit.Orbit)
	for info.State != exportkit.StateReady {
		var err error
		info, err = status(a, info)
		require.NoError(t, err)
	}
	require.NoError(t, srv.Inject(exporttest.OnStorage().CorruptAt(100).Always()))
	_, err := activityEnv(a).ExecuteActivity(a.DownloadExport, DownloadRequest{Export: info, Destination: Destination{Sink: "mem", Key: "k"}})
	assertAppError(t, err, ErrTypeDownloadMismatch, false)
	assert.Empty(t, sink.objs, "nothing kept as if whole")
}

func TestDownloadExportRefusesABadDestination(t *testing.T) {
	_, c := newServer(t, exporttest.ReadyAfter(0))
	a := NewActivities(c)
	info := create(t, a, exportkit.Brainbase)
	for name, d := range map[string]Destination{
		"none":     {},
		"both":     {Path: "x", Sink: "y"},
		"no sink":  {Sink: "nope"},
		"not mine": {Path: t.TempDir() + "/f", Sink: "mem"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := activityEnv(a).ExecuteActivity(a.DownloadExport, DownloadRequest{Export: info, Destination: d})
			assertAppError(t, err, ErrTypeInvalidInput, true)
		})
	}
}

func TestDownloadExportOfAnExpiredExport(t *testing.T) {
	srv, c := newServer(t, exporttest.ReadyAfter(0))
	a := NewActivities(c)
	info := create(t, a, exportkit.Brainbase)
	_, err := status(a, info)
	require.NoError(t, err)
	require.NoError(t, srv.Expire(exportkit.Brainbase, info.ID))
	_, err = activityEnv(a).ExecuteActivity(a.DownloadExport, DownloadRequest{Export: info, Destination: Destination{Path: t.TempDir() + "/f"}})
	assertAppError(t, err, ErrTypeExportExpired, true)
}

func TestActivitiesWithoutAClient(t *testing.T) {
	a := &Activities{}
	_, err := activityEnv(a).ExecuteActivity(a.CreateExport, createFor(exportkit.Brainbase))
	assertAppError(t, err, ErrTypeInvalidInput, true)
}

func TestAsTemporal(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		err          error
		typ          string
		nonRetryable bool
		delay        time.Duration
	}{
		{&exportkit.ExportError{State: exportkit.StateFailed}, ErrTypeExportFailed, true, 0},
		{&exportkit.ExportError{State: exportkit.StateExpired}, ErrTypeExportExpired, true, 0},
		{&exportkit.ExportError{State: exportkit.StateCanceled}, ErrTypeExportCanceled, true, 0},
		{fmt.Errorf("x: %w", exportkit.ErrExportSuperseded), ErrTypeExportSuperseded, true, 0},
		{invalid(errors.New("bad")), ErrTypeInvalidInput, true, 0},
		{exportkit.ErrBadResumeToken, ErrTypeInvalidInput, true, 0},
		{exportkit.ErrUnsafeURL, ErrTypeUnsafeURL, true, 0},
		{fmt.Errorf("%w: %w", exportkit.ErrWaitTimeout, exportkit.ErrRateLimited), ErrTypeWaitTimeout, true, 0},
		{&exportkit.APIError{StatusCode: 429, RetryAfter: 42 * time.Second}, ErrTypeRateLimited, false, 42 * time.Second},
		{&exportkit.APIError{StatusCode: 429}, ErrTypeRateLimited, false, 0},
		{&exportkit.APIError{StatusCode: 410}, ErrTypeExportExpired, true, 0},
		{&exportkit.APIError{StatusCode: 401}, ErrTypeUnauthorized, true, 0},
		{&exportkit.APIError{StatusCode: 403}, ErrTypeUnauthorized, true, 0},
		{&exportkit.APIError{StatusCode: 404}, ErrTypeNotFound, true, 0},
		{&exportkit.APIError{StatusCode: 409}, ErrTypeNotReady, false, 0},
		{&exportkit.APIError{StatusCode: 503}, ErrTypeTransient, false, 0},
		{exportkit.ErrChecksumMismatch, ErrTypeDownloadMismatch, false, 0},
		{exportkit.ErrFileChanged, ErrTypeDownloadMismatch, false, 0},
		{io.ErrUnexpectedEOF, ErrTypeTransient, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			var ae *temporal.ApplicationError
			require.ErrorAs(t, asTemporal(ctx, tt.err), &ae)
			assert.Equal(t, tt.typ, ae.Type())
			assert.Equal(t, tt.nonRetryable, ae.NonRetryable())
			assert.Equal(t, tt.delay, ae.NextRetryDelay())
			assert.Equal(t, tt.err.Error(), ae.Message())
		})
	}
	t.Run("context ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		err := fmt.Errorf("wait: %w", context.Canceled)
		assert.Same(t, err, asTemporal(ctx, err), "the SDK reports it as a cancellation")
	})
	assert.NoError(t, asTemporal(ctx, nil))
}

// assertAppError asserts that err is an application error of type typ.
func assertAppError(t *testing.T, err error, typ string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, typ, ae.Type(), "%v", err)
	assert.Equal(t, nonRetryable, ae.NonRetryable(), "non-retryable")
	return ae
}
