package exportkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// LogExport is a Brainbase Labs log export job, exactly as the API sends it.
//
// Brainbase API docs: https://docs.usebrainbase.com/sdk/log-exports/get-export-status-and-download-url
type LogExport struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"` // PENDING, PROCESSING, COMPLETED, FAILED, EXPIRED
	Format        string     `json:"format"` // CSV or JSON
	LogType       *string    `json:"logType"`
	RowCount      *int64     `json:"rowCount"`
	FileSizeBytes *float64   `json:"fileSizeBytes"` // a JSON number, not always whole
	DownloadURL   *string    `json:"downloadUrl"`   // presigned S3 URL, valid 24 h, when COMPLETED
	ErrorMessage  *string    `json:"errorMessage"`
	CreatedAt     time.Time  `json:"createdAt"`
	ExpiresAt     *time.Time `json:"expiresAt"`
}

// LogExportRequest asks Brainbase for a log export. Brainbase does not
// document the create body; these are the fields its API is known to take.
// Empty fields are left out.
type LogExportRequest struct {
	Format       string     `json:"format,omitempty"`  // CSV or JSON (any case)
	LogType      string     `json:"logType,omitempty"` // e.g. VoiceDeploymentLog
	WorkerID     string     `json:"workerId,omitempty"`
	DeploymentID string     `json:"deploymentId,omitempty"`
	StartDate    *time.Time `json:"startDate,omitempty"`
	EndDate      *time.Time `json:"endDate,omitempty"`
}

// logFormats are Brainbase's export formats, as it spells them.
var logFormats = []string{"CSV", "JSON"}

var brainbaseStates = stateMap{
	"pending":    StatePending,
	"processing": StateRunning,
	"completed":  StateReady,
	"failed":     StateFailed,
	"expired":    StateExpired,
}

// Vendor returns [Brainbase].
func (e *LogExport) Vendor() Vendor { return Brainbase }

// ExportID returns the export's id.
func (e *LogExport) ExportID() string { return e.ID }

// State maps PENDING, PROCESSING, COMPLETED, FAILED and EXPIRED.
func (e *LogExport) State() State { return brainbaseStates.of(e.Status) }

// RawStatus returns Brainbase's status string.
func (e *LogExport) RawStatus() string { return e.Status }

// Err returns an [*ExportError] with errorMessage when the export failed or
// expired.
func (e *LogExport) Err() error { return exportErr(e, "", deref(e.ErrorMessage)) }

// Size returns fileSizeBytes rounded to whole bytes, or -1.
func (e *LogExport) Size() int64 { return floatSize(e.FileSizeBytes) }

// location is where a ready export's file is.
func (e *LogExport) location() (*fileLocation, error) {
	if err := readyForDownload(e); err != nil {
		return nil, err
	}
	if deref(e.DownloadURL) == "" {
		return nil, errNoDownloadURL
	}
	return &fileLocation{url: *e.DownloadURL, size: e.Size()}, nil
}

// UnmarshalJSON accepts the export object bare or inside {"data": …}.
func (e *LogExport) UnmarshalJSON(b []byte) error {
	type plain LogExport
	var w struct {
		Data *plain `json:"data"`
	}
	if err := json.Unmarshal(b, &w); err == nil && w.Data != nil && w.Data.ID != "" {
		*e = LogExport(*w.Data)
		return nil
	}
	return json.Unmarshal(b, (*plain)(e))
}

// ExportsService is Brainbase Labs' team log exports API.
//
// Brainbase API docs: https://docs.usebrainbase.com/sdk/log-exports/get-export-status-and-download-url
type ExportsService struct {
	c   *Client
	api *vendorClient
}

// Create starts a log export. A format of CSV or JSON may be given in any
// case: it is sent upper case, as Brainbase spells it; any other format is
// an error matching [ErrInvalidInput], before anything is sent. The
// request is sent once: a create is never replayed after it may have
// reached the server.
//
// Brainbase API: POST /api/team/exports
func (s *ExportsService) Create(ctx context.Context, r *LogExportRequest) (*LogExport, error) {
	if r == nil {
		r = &LogExportRequest{}
	}
	f, ok := oneOf(r.Format, logFormats)
	if !ok {
		return nil, opError(Brainbase, "create export", "",
			&inputError{fmt.Errorf("format %q is not CSV or JSON", excerpt(r.Format, 64))})
	}
	if f != r.Format {
		n := *r
		n.Format = f
		r = &n
	}
	e, _, err := call[LogExport](ctx, s.api, request{op: "create export", method: http.MethodPost,
		path: "/api/team/exports", body: r, noReplay: true})
	if err != nil {
		return nil, err
	}
	if e.ID == "" {
		return nil, opError(Brainbase, "create export", "", errors.New("response has no export id"))
	}
	return e, nil
}

// logExportList is Brainbase's export listing: its shape is undocumented,
// so a bare array and a {"data": […]} or {"items": […]} envelope are all
// accepted.
type logExportList []*LogExport

func (l *logExportList) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		return json.Unmarshal(t, (*[]*LogExport)(l))
	}
	var w struct {
		Data  []*LogExport `json:"data"`
		Items []*LogExport `json:"items"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*l = append(w.Data, w.Items...)
	return nil
}

// List returns the team's log exports, as Brainbase lists them. Brainbase
// documents neither the listing's shape nor its pagination: a bare array
// and a {"data": […]} envelope are both read, and one response is all
// there is.
//
// Brainbase API: GET /api/team/exports
func (s *ExportsService) List(ctx context.Context) ([]*LogExport, error) {
	l, _, err := call[logExportList](ctx, s.api, request{op: "list exports", method: http.MethodGet,
		path: "/api/team/exports"})
	if err != nil {
		return nil, err
	}
	out := make([]*LogExport, 0, len(*l))
	for _, e := range *l {
		if e != nil && e.ID != "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// Get reads an export's status and, when it is COMPLETED, a fresh download URL.
//
// Brainbase API: GET /api/team/exports/{exportId}
func (s *ExportsService) Get(ctx context.Context, id string) (*LogExport, error) {
	e, _, err := s.get(ctx, id)
	return e, err
}

func (s *ExportsService) get(ctx context.Context, id string) (*LogExport, respInfo, error) {
	seg, err := segment("export id", id)
	if err != nil {
		return nil, respInfo{}, opError(Brainbase, "get export", id, err)
	}
	return call[LogExport](ctx, s.api, request{op: "get export", id: id, method: http.MethodGet,
		path: "/api/team/exports/" + seg})
}

// Wait polls the export until it is ready, failed or expired (see
// [WaitOption] for the schedule). A failed or expired export is returned
// with an [*ExportError].
func (s *ExportsService) Wait(ctx context.Context, id string, opts ...WaitOption) (*LogExport, error) {
	return waitAs[*LogExport](ctx, s.c, s.target(id, time.Now()), opts)
}

// Download streams a ready export's file to w, resuming after dropped
// connections and verifying the size Brainbase reports.
func (s *ExportsService) Download(ctx context.Context, id string, w io.Writer, opts ...DownloadOption) (*DownloadResult, error) {
	return s.c.download(ctx, s.source(id, nil), w, opts)
}

// DownloadFile downloads a ready export's file to path, atomically: the
// file appears at path only once it is complete and verified.
func (s *ExportsService) DownloadFile(ctx context.Context, id, path string, opts ...DownloadOption) (*DownloadResult, error) {
	return s.c.downloadFile(ctx, s.source(id, nil), path, opts)
}

// Open returns a reader of a ready export's file that resumes under the
// caller after dropped connections. Close it when done.
func (s *ExportsService) Open(ctx context.Context, id string, opts ...DownloadOption) (io.ReadCloser, error) {
	return s.c.open(ctx, s.source(id, nil), opts)
}

// target plugs a Brainbase export into the polling core.
func (s *ExportsService) target(id string, started time.Time) *pollTarget {
	return &pollTarget{
		vendor: Brainbase, id: id, started: started,
		state: resumeState{Vendor: Brainbase, Kind: kindLogExport, ID: id},
		read:  func(ctx context.Context) (Export, time.Duration, error) { return asRead(s.get(ctx, id)) },
	}
}

// source plugs a Brainbase export into the download core.
func (s *ExportsService) source(id string, known *LogExport) *fileSource {
	src := &fileSource{vendor: Brainbase, id: id, locate: func(ctx context.Context) (*fileLocation, error) { return located(s.get(ctx, id)) }}
	if known != nil {
		src.known, src.knownErr = known.location()
	}
	return src
}
