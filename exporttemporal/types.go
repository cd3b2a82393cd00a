package exporttemporal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/exportkit/exportkit"
)

// CreateRequest is an export to create, for any vendor, in a form Temporal
// can serialize. Set exactly one field: the vendor's own request.
type CreateRequest struct {
	Brainbase *exportkit.LogExportRequest    `json:",omitempty"` // a Brainbase log export
	Memsolus  *exportkit.MemoryExportRequest `json:",omitempty"` // a Memsolus memory export
	Orbit     *OrbitRunRequest               `json:",omitempty"` // an Orbit audience run, then its CSV export
	Kore      *KoreExportRequest             `json:",omitempty"` // a Kore.ai bot export
}

// OrbitRunRequest starts a Leadpipe Orbit audience run; the workflow then
// exports the completed run as CSV. IdempotencyKey defaults to one derived
// from the workflow execution and the activity id, so that a retried
// create activity returns the same run.
type OrbitRunRequest struct {
	AudienceID     string
	RunType        string `json:",omitempty"` // default "manual"
	IdempotencyKey string `json:",omitempty"` // at most 120 characters
}

// KoreExportRequest starts a Kore.ai export of bot BotID.
type KoreExportRequest struct {
	BotID   string
	Request *exportkit.BotExportRequest `json:",omitempty"`
}

// Vendor returns the vendor of the one request set, or an error matching
// [exportkit.ErrInvalidInput] when none or several are set.
func (r CreateRequest) Vendor() (exportkit.Vendor, error) {
	var set []exportkit.Vendor
	if r.Brainbase != nil {
		set = append(set, exportkit.Brainbase)
	}
	if r.Memsolus != nil {
		set = append(set, exportkit.Memsolus)
	}
	if r.Orbit != nil {
		set = append(set, exportkit.Orbit)
	}
	if r.Kore != nil {
		set = append(set, exportkit.Kore)
	}
	if len(set) != 1 {
		return "", invalid(fmt.Errorf("exporttemporal: create request: want exactly one vendor's request, got %d", len(set)))
	}
	return set[0], nil
}

// ExportInfo is an export as it crosses the activity boundary: what the
// workflow needs to decide (state, size, the failure) and the exportkit
// resume token from which any worker rebuilds the export, whatever its
// vendor. Make one from an export a service returned with [NewExportInfo].
type ExportInfo struct {
	Vendor    exportkit.Vendor
	ID        string          // the vendor's id of the export (for Orbit, of the run until its export exists)
	State     exportkit.State // normalized
	RawStatus string          // the vendor's own status string
	Size      int64           // expected file size in bytes, -1 when unknown
	// Token is the exportkit resume token of a wait on this export
	// ([exportkit.Waiter.ResumeToken]): vendor, kind and ids, no
	// credential.
	Token string
	// Created is when the activities first saw this export (created it,
	// or were given it): status reads answering 404 are retried for
	// [exportkit.DefaultNotFoundGrace] after it.
	Created time.Time
	// ErrorCode and ErrorMessage are the vendor's, when the export failed,
	// expired or was canceled.
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

// NewExportInfo returns the ExportInfo of any export a service returned,
// for an [ExportWorkflowInput] that takes up an existing export.
func NewExportInfo(e exportkit.Export, c *exportkit.Client) (ExportInfo, error) {
	if c == nil {
		return ExportInfo{}, invalid(errors.New("exporttemporal: nil client"))
	}
	w, err := c.NewWaiter(e)
	if err != nil {
		return ExportInfo{}, err
	}
	token, err := w.ResumeToken()
	if err != nil {
		return ExportInfo{}, err
	}
	info := ExportInfo{Token: token, Created: time.Now().UTC()}
	info.update(e)
	return info, nil
}

// update copies what an export read says into info.
func (info *ExportInfo) update(e exportkit.Export) {
	info.Vendor, info.ID = e.Vendor(), e.ExportID()
	info.State, info.RawStatus, info.Size = e.State(), e.RawStatus(), e.Size()
	info.ErrorCode, info.ErrorMessage = "", ""
	var xe *exportkit.ExportError
	if errors.As(e.Err(), &xe) {
		info.ErrorCode, info.ErrorMessage = xe.Code, xe.Message
	}
}

// Destination is where a downloaded file goes: a path on a volume every
// worker that may run the download can reach, or a [Sink] registered on
// [Activities.Sinks]. Set Path or Sink, not both.
type Destination struct {
	// Path is the file to write, atomically (through Path + ".partial").
	// A retried download writes to the same path, so that exportkit can
	// take up what an earlier attempt left where it is able to.
	Path string `json:",omitempty"`
	// Sink names a Sink in [Activities.Sinks].
	Sink string `json:",omitempty"`
	// Key is the name the Sink stores the file under; default
	// "<vendor>-<export id>".
	Key string `json:",omitempty"`
}

// empty reports whether no destination is set.
func (d Destination) empty() bool { return d.Path == "" && d.Sink == "" }

// Sink is a destination for downloads other than a shared file system:
// object storage, a database, a message queue. Register sinks by name on
// [Activities.Sinks] before the worker starts; a [Destination] names one.
type Sink interface {
	// Put stores the file under key, reading r to its end. r returns an
	// error instead of io.EOF when the download fails or does not verify:
	// Put must then return an error and keep no object as if it were
	// whole. A retried download calls Put again from the first byte, so
	// Put must replace what an earlier call stored under key.
	Put(ctx context.Context, key string, r io.Reader) error
}

// WaitRequest is the input of [Activities.WaitExport].
type WaitRequest struct {
	Export ExportInfo
	// Schedule is the polling schedule; zero fields take
	// [exportkit.DefaultPollSchedule]'s.
	Schedule exportkit.PollSchedule
	// Deadline ends the wait with a non-retryable [ErrTypeWaitTimeout]
	// error; zero: none. It is a time, not a duration, so that retries on
	// other workers share it.
	Deadline time.Time `json:",omitempty"`
}

// WaitOutput is the result of [Activities.WaitExport]: the ready export,
// and the status reads of the wait, all attempts together as far as their
// heartbeats carried them (Temporal throttles heartbeats, so the last
// reads of a lost attempt may be missing from the count).
type WaitOutput struct {
	Export ExportInfo
	Polls  int
}

// DownloadRequest is the input of [Activities.DownloadExport].
type DownloadRequest struct {
	Export      ExportInfo
	Destination Destination
}

// DownloadOutput is the result of [Activities.DownloadExport]: exportkit's
// own result, where the file went, and how the attempts went.
type DownloadOutput struct {
	exportkit.DownloadResult
	Destination Destination
	// Attempt is the activity attempt that finished the download (1 when
	// no worker was lost).
	Attempt int32
	// EarlierDone is the progress the previous attempt last heartbeated,
	// in bytes; 0 on a first attempt.
	EarlierDone int64
}

// normalize returns exportkit's default for a zero schedule, and fills the
// zero fields of another from it (a zero Jitter stays: no jitter).
func normalize(s exportkit.PollSchedule) exportkit.PollSchedule {
	d := exportkit.DefaultPollSchedule()
	if s == (exportkit.PollSchedule{}) {
		return d
	}
	if s.Min <= 0 {
		s.Min = d.Min
	}
	if s.Max <= 0 {
		s.Max = d.Max
	}
	if s.Max < s.Min {
		s.Max = s.Min
	}
	if s.Multiplier < 1 {
		s.Multiplier = d.Multiplier
	}
	if s.Jitter < 0 || s.Jitter >= 1 {
		s.Jitter = d.Jitter
	}
	return s
}
