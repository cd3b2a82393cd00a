package exportkit

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// Vendor returns [Orbit].
func (e *AudienceExport) Vendor() Vendor { return Orbit }

// ExportID returns the stored export's id.
func (e *AudienceExport) ExportID() string { return e.Export.ID }

// State maps processing, completed and failed; a completed export whose
// expiresAt has passed is expired.
func (e *AudienceExport) State() State {
	s := orbitExportStates.of(e.Export.Status)
	if s == StateReady && e.Export.ExpiresAt != nil && time.Now().After(*e.Export.ExpiresAt) {
		return StateExpired
	}
	return s
}

// RawStatus returns Orbit's export status string.
func (e *AudienceExport) RawStatus() string { return e.Export.Status }

// Err returns an [*ExportError] with errorCode and errorMessage when the
// export failed or expired.
func (e *AudienceExport) Err() error {
	return exportErr(e, deref(e.Export.ErrorCode), deref(e.Export.ErrorMessage))
}

// Size returns byteSize once the export is completed, or -1.
func (e *AudienceExport) Size() int64 {
	if orbitExportStates.of(e.Export.Status) != StateReady || e.Export.ByteSize == nil {
		return -1
	}
	return sizeOf(*e.Export.ByteSize, true)
}

func (e *AudienceExport) location() (*fileLocation, error) {
	if err := readyForDownload(e); err != nil {
		return nil, err
	}
	if deref(e.DownloadURL) == "" {
		return nil, errNoDownloadURL
	}
	return &fileLocation{url: *e.DownloadURL, size: e.Size(), sha1: deref(e.Export.ContentSHA1),
		name: deref(e.Export.FileName)}, nil
}

// CreateExport creates, or reuses, the stored CSV export of a completed
// run. A run that is not completed yet answers an error matching
// [ErrNotReady]. The call is idempotent by design and may be retried.
//
// Orbit API: POST /v1/intent/audiences/{id}/runs/{runId}/exports
func (s *AudiencesService) CreateExport(ctx context.Context, audienceID, runID string) (*AudienceExport, error) {
	const op = "create export"
	path, err := orbitPath(audienceID, runID, "", 2)
	if err != nil {
		return nil, opError(Orbit, op, runID, err)
	}
	env, info, err := call[envelope[*AudienceExport]](ctx, s.api, request{op: op, id: runID,
		method: http.MethodPost, path: path + "/exports"})
	e, err := unwrapExport(env, op, runID, err)
	if e != nil {
		e.Reused = info.status == http.StatusOK
	}
	return e, err
}

func unwrapExport(env *envelope[*AudienceExport], op, id string, err error) (*AudienceExport, error) {
	if err != nil {
		return nil, err
	}
	if env.Data == nil || env.Data.Export.ID == "" {
		return nil, opError(Orbit, op, id, errors.New("response has no export"))
	}
	env.Data.RequestID = env.Meta.requestID()
	return env.Data, nil
}

// GetExport reads a stored export, with a fresh signed download URL once it
// is completed. An export still processing may answer an error matching
// [ErrNotReady].
//
// Orbit API: GET /v1/intent/audiences/{id}/runs/{runId}/exports/{exportId}
func (s *AudiencesService) GetExport(ctx context.Context, ref ExportRef) (*AudienceExport, error) {
	e, _, err := s.getExport(ctx, ref)
	return e, err
}

func (s *AudiencesService) getExport(ctx context.Context, ref ExportRef) (*AudienceExport, respInfo, error) {
	const op = "get export"
	path, err := orbitPath(ref.AudienceID, ref.RunID, ref.ExportID, 3)
	if err != nil {
		return nil, respInfo{}, opError(Orbit, op, ref.ExportID, err)
	}
	env, info, err := call[envelope[*AudienceExport]](ctx, s.api, request{op: op, id: ref.ExportID,
		method: http.MethodGet, path: path})
	e, err := unwrapExport(env, op, ref.ExportID, err)
	return e, info, err
}

// WaitExport polls a stored export until it is completed or failed. A 409
// "not ready" answer is a reason to keep polling, not an error.
func (s *AudiencesService) WaitExport(ctx context.Context, ref ExportRef, opts ...WaitOption) (*AudienceExport, error) {
	return waitAs[*AudienceExport](ctx, s.c, s.exportTarget(ref, time.Now()), opts)
}

// Export waits for the run, creates (or reuses) its stored CSV export and
// waits for that: the whole Orbit chain in one call. It returns the
// completed export, ready for [AudiencesService.Download].
//
// The run is read through the run listing (Orbit has no single-run
// endpoint). A failed or cancelled run ends the wait with a nil export and
// an [*ExportError] carrying the run's errorCode and errorMessage; a failed
// export, with the export and its own. A 409 "run not completed" from the
// export creation, which a run listing that is ahead of the export service
// can cause, is polled through like a run still running.
//
// The options apply to the chain as one wait: [WithMaxWait] and the
// context bound both stages together, [WithOnPoll] sees the
// [*AudienceRun] reads and then the [*AudienceExport] ones, the poll
// interval, jitter, outage budget and the client's [WithDefaultWait]
// apply to both, and the schedule and the not-found grace start over when
// the export is created. A run already waited for with [Client.Wait],
// [Client.WaitAll] or [AudiencesService.WaitRun] carries no options over:
// pass the same ones here.
func (s *AudiencesService) Export(ctx context.Context, audienceID, runID string, opts ...WaitOption) (*AudienceExport, error) {
	if _, err := orbitPath(audienceID, runID, "", 2); err != nil {
		return nil, opError(Orbit, "export run", runID, err)
	}
	return waitAs[*AudienceExport](ctx, s.c, s.chainTarget(audienceID, runID, time.Now()), opts)
}

// Download streams a completed export's CSV to w, verifying byteSize and
// contentSha1 in the same pass.
func (s *AudiencesService) Download(ctx context.Context, ref ExportRef, w io.Writer, opts ...DownloadOption) (*DownloadResult, error) {
	return s.c.download(ctx, s.source(ref, nil), w, opts)
}

// DownloadFile downloads a completed export's CSV to path, atomically.
func (s *AudiencesService) DownloadFile(ctx context.Context, ref ExportRef, path string, opts ...DownloadOption) (*DownloadResult, error) {
	return s.c.downloadFile(ctx, s.source(ref, nil), path, opts)
}

// Open returns a resuming reader of a completed export's CSV.
func (s *AudiencesService) Open(ctx context.Context, ref ExportRef, opts ...DownloadOption) (io.ReadCloser, error) {
	return s.c.open(ctx, s.source(ref, nil), opts)
}
