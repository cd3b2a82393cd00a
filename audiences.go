package exportkit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// AudienceRun is a Leadpipe Orbit audience materialization run, exactly as
// the API sends it. Runs go queued → running → completed, failed or
// cancelled. Only ID, AudienceID, Status and RunType are always present.
//
// Orbit API docs: https://docs.leadpipe.com/orbit-api/daily-runs
type AudienceRun struct {
	ID                 string     `json:"id"`
	AudienceID         string     `json:"audienceId"`
	OrganizationID     *string    `json:"organizationId"`
	Status             string     `json:"status"`  // queued, running, completed, failed, cancelled
	RunType            string     `json:"runType"` // manual, daily or preview
	ConfigHash         *string    `json:"configHash"`
	DataDate           *string    `json:"dataDate"` // a date, "YYYY-MM-DD"
	ResultKey          *string    `json:"resultKey"`
	CandidateCount     *int64     `json:"candidateCount"`
	ResultCount        *int64     `json:"resultCount"`
	Attempts           *int64     `json:"attempts"`
	NextAttemptAt      *time.Time `json:"nextAttemptAt"`
	IdempotencyKey     *string    `json:"idempotencyKey"`
	ErrorCode          *string    `json:"errorCode"`
	ErrorMessage       *string    `json:"errorMessage"`
	StartedAt          *time.Time `json:"startedAt"`
	CompletedAt        *time.Time `json:"completedAt"`
	CancelledAt        *time.Time `json:"cancelledAt"`
	ReadyEmailSentAt   *time.Time `json:"readyEmailSentAt"`
	ReadyEmailExportID *string    `json:"readyEmailExportId"`
	ReadyEmailError    *string    `json:"readyEmailError"`
	CreatedAt          *time.Time `json:"createdAt"`
	UpdatedAt          *time.Time `json:"updatedAt"`

	// RequestID is meta.request_id of the response the run came in.
	RequestID string `json:"-"`
}

// AudienceExport is a stored CSV export of a completed Orbit run, with a
// fresh signed Backblaze B2 download URL, exactly as the API sends it.
//
// Orbit API docs: https://docs.leadpipe.com/api-reference/audience-builder/get-a-stored-export-and-fresh-signed-download-url
type AudienceExport struct {
	Export                AudienceExportRecord `json:"export"`
	DownloadURL           *string              `json:"downloadUrl"`
	DownloadURLExpiresAt  *time.Time           `json:"downloadUrlExpiresAt"`
	DownloadURLTTLSeconds *int64               `json:"downloadUrlTtlSeconds"`

	// RequestID is meta.request_id of the response the export came in.
	RequestID string `json:"-"`
	// Reused reports, for the export [AudiencesService.CreateExport]
	// returned, that the run already had it (Orbit answered 200, not 202
	// for a new one).
	Reused bool `json:"-"`
}

// AudienceExportRecord is Orbit's IntentAudienceExport object.
type AudienceExportRecord struct {
	ID              string     `json:"id"`
	OrganizationID  string     `json:"organizationId"`
	AudienceID      string     `json:"audienceId"`
	RunID           string     `json:"runId"`
	ExportType      string     `json:"exportType"` // csv
	Status          string     `json:"status"`     // processing, completed, failed
	StorageProvider string     `json:"storageProvider"`
	BucketName      *string    `json:"bucketName"`
	FileID          *string    `json:"fileId"`
	FileName        *string    `json:"fileName"`
	ContentType     string     `json:"contentType"`
	ByteSize        *int64     `json:"byteSize"`
	RowCount        *int64     `json:"rowCount"`
	ContentSHA1     *string    `json:"contentSha1"`
	ErrorCode       *string    `json:"errorCode"`
	ErrorMessage    *string    `json:"errorMessage"`
	RequestedBy     *string    `json:"requestedBy"`
	CompletedAt     *time.Time `json:"completedAt"`
	ExpiresAt       *time.Time `json:"expiresAt"`
	CreatedAt       *time.Time `json:"createdAt"`
	UpdatedAt       *time.Time `json:"updatedAt"`
}

// ExportRef names one stored Orbit export.
type ExportRef struct{ AudienceID, RunID, ExportID string }

// Ref returns the reference of this export.
func (e *AudienceExport) Ref() ExportRef {
	return ExportRef{AudienceID: e.Export.AudienceID, RunID: e.Export.RunID, ExportID: e.Export.ID}
}

// RunRequest starts an Orbit run. RunType defaults to "manual", the only
// public value. IdempotencyKey (at most 120 characters) makes a repeated
// request return the same run; one is generated when it is empty, and the
// request is then safe to retry.
type RunRequest struct {
	RunType        string `json:"runType"`
	IdempotencyKey string `json:"-"`
}

// RunListOptions limits a run listing: Limit is 1 to 100 (server default 25).
type RunListOptions struct {
	Limit int `url:"limit,omitempty"`
}

var orbitRunStates = stateMap{
	"queued":    StatePending,
	"running":   StateRunning,
	"completed": StateReady,
	"failed":    StateFailed,
	"cancelled": StateCanceled,
	"canceled":  StateCanceled,
}

var orbitExportStates = stateMap{
	"processing": StateRunning,
	"completed":  StateReady,
	"failed":     StateFailed,
}

// Vendor returns [Orbit].
func (r *AudienceRun) Vendor() Vendor { return Orbit }

// ExportID returns the run's id.
func (r *AudienceRun) ExportID() string { return r.ID }

// State maps queued, running, completed, failed and cancelled.
func (r *AudienceRun) State() State { return orbitRunStates.of(r.Status) }

// RawStatus returns Orbit's run status string.
func (r *AudienceRun) RawStatus() string { return r.Status }

// Err returns an [*ExportError] with the run's errorCode and errorMessage
// when it failed or was cancelled.
func (r *AudienceRun) Err() error { return exportErr(r, deref(r.ErrorCode), deref(r.ErrorMessage)) }

// Size is -1: a run has no file of its own.
func (r *AudienceRun) Size() int64 { return -1 }

// AudiencesService is Leadpipe Orbit's audience runs and their stored CSV
// exports. An export is two waits: the run, then the export of the
// completed run; [AudiencesService.Export] does both.
//
// Orbit API docs: https://docs.leadpipe.com/orbit-api/stats-and-export
type AudiencesService struct {
	c   *Client
	api *vendorClient
}

// orbitPath builds /v1/intent/audiences/{a}[/runs/{r}[/exports/{e}]] down
// to depth 1, 2 or 3, escaping each id.
func orbitPath(audienceID, runID, exportID string, depth int) (string, error) {
	names := [...]string{"audience id", "run id", "export id"}
	ids := [...]string{audienceID, runID, exportID}
	parts := [...]string{"/v1/intent/audiences/", "/runs/", "/exports/"}
	var path string
	for i := 0; i < depth; i++ {
		seg, err := segment(names[i], ids[i])
		if err != nil {
			return "", err
		}
		path += parts[i] + seg
	}
	return path, nil
}

// ListRuns returns the audience's latest runs, newest first.
//
// Orbit API: GET /v1/intent/audiences/{id}/runs?limit=
func (s *AudiencesService) ListRuns(ctx context.Context, audienceID string, opts *RunListOptions) ([]*AudienceRun, error) {
	runs, _, err := s.listRuns(ctx, audienceID, opts)
	return runs, err
}

func (s *AudiencesService) listRuns(ctx context.Context, audienceID string, opts *RunListOptions) ([]*AudienceRun, respInfo, error) {
	const op = "list runs"
	path, err := orbitPath(audienceID, "", "", 1)
	if err != nil {
		return nil, respInfo{}, opError(Orbit, op, audienceID, err)
	}
	q := url.Values{}
	if opts != nil && opts.Limit != 0 {
		if opts.Limit < 1 || opts.Limit > 100 {
			return nil, respInfo{}, opError(Orbit, op, audienceID, &inputError{fmt.Errorf("limit %d is not between 1 and 100", opts.Limit)})
		}
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	env, info, err := call[envelope[[]*AudienceRun]](ctx, s.api, request{op: op, id: audienceID,
		method: http.MethodGet, path: path + "/runs", query: q})
	if err != nil {
		return nil, info, err
	}
	for _, r := range env.Data {
		if r != nil {
			r.RequestID = env.Meta.requestID()
		}
	}
	return env.Data, info, nil
}

// CreateRun queues a materialization run of the audience. The request
// carries an Idempotency-Key (the caller's, or a generated one), so it is
// retried safely: the same key returns the same run.
//
// Orbit API: POST /v1/intent/audiences/{id}/runs
func (s *AudiencesService) CreateRun(ctx context.Context, audienceID string, r *RunRequest) (*AudienceRun, error) {
	const op = "create run"
	path, err := orbitPath(audienceID, "", "", 1)
	if err != nil {
		return nil, opError(Orbit, op, audienceID, err)
	}
	body := RunRequest{RunType: "manual"}
	if r != nil {
		body = *r
		if body.RunType == "" {
			body.RunType = "manual"
		}
	}
	if body.IdempotencyKey == "" {
		body.IdempotencyKey = newIdempotencyKey()
	}
	if len(body.IdempotencyKey) > 120 {
		return nil, opError(Orbit, op, audienceID, &inputError{errors.New("idempotency key longer than 120 characters")})
	}
	env, _, err := call[envelope[*AudienceRun]](ctx, s.api, request{op: op, id: audienceID,
		method: http.MethodPost, path: path + "/runs", body: body,
		header: http.Header{"Idempotency-Key": {body.IdempotencyKey}}})
	if err != nil {
		return nil, err
	}
	if env.Data == nil || env.Data.ID == "" {
		return nil, opError(Orbit, op, audienceID, errors.New("response has no run"))
	}
	env.Data.RequestID = env.Meta.requestID()
	return env.Data, nil
}

// newIdempotencyKey returns a random UUIDv4 string.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// GetRun reads one run. Orbit has no single-run endpoint: the run is
// looked up among the audience's latest 100 runs, and one missing from
// them is an [*APIError] matching [ErrNotFound] (code RUN_NOT_FOUND).
//
// Orbit API: GET /v1/intent/audiences/{id}/runs?limit=100
func (s *AudiencesService) GetRun(ctx context.Context, audienceID, runID string) (*AudienceRun, error) {
	r, _, err := s.getRun(ctx, audienceID, runID)
	return r, err
}

// getRun finds one run through the run listing: Orbit has no single-run
// endpoint. A run missing from the latest 100 is reported as not found.
func (s *AudiencesService) getRun(ctx context.Context, audienceID, runID string) (*AudienceRun, respInfo, error) {
	if _, err := segment("run id", runID); err != nil {
		return nil, respInfo{}, opError(Orbit, "get run", runID, err)
	}
	runs, info, err := s.listRuns(ctx, audienceID, &RunListOptions{Limit: 100})
	if err != nil {
		return nil, info, err
	}
	for _, r := range runs {
		if r != nil && r.ID == runID {
			return r, info, nil
		}
	}
	return nil, info, &APIError{Vendor: Orbit, Op: "get run", ID: runID, StatusCode: http.StatusNotFound,
		Code: "RUN_NOT_FOUND", Message: "run not among the audience's latest 100 runs"}
}

// WaitRun polls the audience's runs until this one is completed, failed or
// cancelled.
func (s *AudiencesService) WaitRun(ctx context.Context, audienceID, runID string, opts ...WaitOption) (*AudienceRun, error) {
	return waitAs[*AudienceRun](ctx, s.c, s.runTarget(audienceID, runID, time.Now()), opts)
}

func (s *AudiencesService) runTarget(audienceID, runID string, started time.Time) *pollTarget {
	return &pollTarget{
		vendor: Orbit, id: runID, started: started,
		state: resumeState{Vendor: Orbit, Kind: kindAudienceRun, ID: runID, AudienceID: audienceID},
		read: func(ctx context.Context) (Export, time.Duration, error) {
			return asRead(s.getRun(ctx, audienceID, runID))
		},
	}
}

func (s *AudiencesService) exportTarget(ref ExportRef, started time.Time) *pollTarget {
	return &pollTarget{
		vendor: Orbit, id: ref.ExportID, started: started,
		state: resumeState{Vendor: Orbit, Kind: kindAudienceExport, ID: ref.ExportID,
			AudienceID: ref.AudienceID, RunID: ref.RunID},
		read: func(ctx context.Context) (Export, time.Duration, error) { return asRead(s.getExport(ctx, ref)) },
	}
}

// chainTarget reads the run until it is completed, then creates (or
// reuses) its export and reads that: one target, so that one schedule,
// one maximum wait and one context cover both stages.
func (s *AudiencesService) chainTarget(audienceID, runID string, started time.Time) *pollTarget {
	var ref *ExportRef // set once the export exists
	return &pollTarget{
		vendor: Orbit, id: runID, started: started,
		read: func(ctx context.Context) (Export, time.Duration, error) {
			if ref != nil {
				return asRead(s.getExport(ctx, *ref))
			}
			r, info, err := s.getRun(ctx, audienceID, runID)
			if err != nil {
				return nil, info.retryAfter, err
			}
			if r.State() != StateReady {
				return r, info.retryAfter, nil // running, or failed: the run's own error ends the wait
			}
			e, err := s.CreateExport(ctx, audienceID, runID)
			if err != nil {
				// The run is completed but its export cannot be had yet (409)
				// or the call failed: report the run, not a terminal state.
				return r, 0, err
			}
			ref = &ExportRef{AudienceID: audienceID, RunID: runID, ExportID: e.Export.ID}
			return e, 0, nil
		},
	}
}

func (s *AudiencesService) source(ref ExportRef, known *AudienceExport) *fileSource {
	src := &fileSource{vendor: Orbit, id: ref.ExportID, locate: func(ctx context.Context) (*fileLocation, error) { return located(s.getExport(ctx, ref)) }}
	if known != nil {
		src.known, src.knownErr = known.location()
	}
	return src
}

// runSource is the file of a run: its stored CSV export, created or
// reused when the file is first located and waited for, with the
// client's default wait options, when it is not completed yet. A run that
// failed is its own error, before any request; one still running answers
// the export creation's [ErrNotReady].
func (s *AudiencesService) runSource(run *AudienceRun) *fileSource {
	aud, runID := run.AudienceID, run.ID
	var (
		mu  sync.Mutex
		ref *ExportRef // set once the export exists
	)
	src := &fileSource{vendor: Orbit, id: runID, key: "orbit:" + aud + "/" + runID + ":csv",
		locate: func(ctx context.Context) (*fileLocation, error) {
			mu.Lock()
			defer mu.Unlock()
			if ref != nil {
				return located(s.getExport(ctx, *ref))
			}
			e, err := s.CreateExport(ctx, aud, runID)
			if err != nil {
				return nil, err
			}
			r := e.Ref()
			if e.State() != StateReady {
				if e, err = s.WaitExport(ctx, r); err != nil {
					return nil, err
				}
			}
			ref = &r
			return e.location()
		}}
	if err := readyForDownload(run); err != nil {
		src.knownErr = err
	} else {
		src.knownErr = errNoDownloadURL // the run has none: locate creates its export
	}
	return src
}
