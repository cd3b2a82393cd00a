package exporttemporal

import (
	"context"
	"errors"

	"github.com/exportkit/exportkit"
	"go.temporal.io/sdk/temporal"
)

// The types of the [temporal.ApplicationError]s the activities return, for
// workflows that branch on them (ApplicationError.Type) and for retry
// policies (RetryPolicy.NonRetryableErrorTypes).
const (
	// ErrTypeExportFailed: the export job failed on the vendor's side.
	// Non-retryable; the details hold the [ExportInfo].
	ErrTypeExportFailed = "ExportFailed"
	// ErrTypeExportExpired: the export's file is no longer available.
	// Non-retryable; the details hold the [ExportInfo] when there is one.
	ErrTypeExportExpired = "ExportExpired"
	// ErrTypeExportCanceled: the export job (or Orbit run) was canceled.
	// Non-retryable; the details hold the [ExportInfo].
	ErrTypeExportCanceled = "ExportCanceled"
	// ErrTypeExportSuperseded: another Kore export of the same bot replaced
	// the one waited on. Non-retryable.
	ErrTypeExportSuperseded = "ExportSuperseded"
	// ErrTypeInvalidInput: exportkit refused the input before any request
	// (a malformed id or token, a bad option, an unknown sink).
	// Non-retryable.
	ErrTypeInvalidInput = "InvalidInput"
	// ErrTypeUnauthorized: the vendor refused the credential (401), or it
	// lacks a permission (403). Non-retryable: a configuration to fix.
	ErrTypeUnauthorized = "Unauthorized"
	// ErrTypeNotFound: the export does not exist, after the not-found
	// grace. Non-retryable.
	ErrTypeNotFound = "NotFound"
	// ErrTypeWaitTimeout: the wait's deadline passed. Non-retryable.
	ErrTypeWaitTimeout = "WaitTimeout"
	// ErrTypeUnsafeURL: a download URL or redirect was refused. Non-retryable.
	ErrTypeUnsafeURL = "UnsafeURL"
	// ErrTypeRateLimited: the vendor asked to slow down (429). Retryable;
	// the next attempt comes no sooner than the server's Retry-After.
	ErrTypeRateLimited = "RateLimited"
	// ErrTypeNotReady: the export (or its file) is not ready yet.
	// Retryable.
	ErrTypeNotReady = "NotReady"
	// ErrTypeDownloadMismatch: the bytes did not verify (checksum, size)
	// or the file changed on the server. Retryable: the download starts
	// over.
	ErrTypeDownloadMismatch = "DownloadMismatch"
	// ErrTypeTransient: anything else (connection errors, 5xx after the
	// client's own retries). Retryable.
	ErrTypeTransient = "Transient"
)

// asTemporal maps an exportkit error to the Temporal error that means the
// right thing to a retry policy. An error from the activity's own context
// ending (cancellation, the worker stopping, a timeout) is returned as it
// is, so that the SDK reports it as such. details (an ExportInfo, say) go
// into the application error's details.
func asTemporal(ctx context.Context, err error, details ...any) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	var (
		xe  *exportkit.ExportError
		ae  *exportkit.APIError
		opt = temporal.ApplicationErrorOptions{Details: details}
		typ string
	)
	switch {
	case errors.As(err, &xe):
		opt.NonRetryable = true
		switch xe.State {
		case exportkit.StateExpired:
			typ = ErrTypeExportExpired
		case exportkit.StateCanceled:
			typ = ErrTypeExportCanceled
		default:
			typ = ErrTypeExportFailed
		}
	case errors.Is(err, exportkit.ErrExportSuperseded):
		typ, opt.NonRetryable = ErrTypeExportSuperseded, true
	case errors.Is(err, exportkit.ErrInvalidInput), errors.Is(err, exportkit.ErrBadResumeToken):
		typ, opt.NonRetryable = ErrTypeInvalidInput, true
	case errors.Is(err, exportkit.ErrUnsafeURL):
		typ, opt.NonRetryable = ErrTypeUnsafeURL, true
	case errors.Is(err, exportkit.ErrWaitTimeout):
		// Before the rate limit: a Retry-After past the deadline matches both.
		typ, opt.NonRetryable = ErrTypeWaitTimeout, true
	case errors.Is(err, exportkit.ErrRateLimited):
		typ = ErrTypeRateLimited
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			opt.NextRetryDelay = ae.RetryAfter
		}
	case errors.Is(err, exportkit.ErrExportExpired): // 410 Gone
		typ, opt.NonRetryable = ErrTypeExportExpired, true
	case errors.Is(err, exportkit.ErrUnauthorized), errors.Is(err, exportkit.ErrForbidden):
		typ, opt.NonRetryable = ErrTypeUnauthorized, true
	case errors.Is(err, exportkit.ErrNotFound):
		typ, opt.NonRetryable = ErrTypeNotFound, true
	case errors.Is(err, exportkit.ErrNotReady):
		typ = ErrTypeNotReady
	case errors.Is(err, exportkit.ErrChecksumMismatch), errors.Is(err, exportkit.ErrSizeMismatch),
		errors.Is(err, exportkit.ErrFileChanged):
		typ = ErrTypeDownloadMismatch
	default:
		typ = ErrTypeTransient
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), typ, opt)
}

// invalidError is input this package refuses: it matches
// [exportkit.ErrInvalidInput].
type invalidError struct{ err error }

func invalid(err error) error                { return &invalidError{err} }
func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == exportkit.ErrInvalidInput }
