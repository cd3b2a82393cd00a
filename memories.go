package exportkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-querystring/query"
)

// MemoryExport is a Memsolus memory export job, exactly as the API sends it.
// Memsolus sends no size, checksum or error message for an export.
//
// Memsolus API docs: https://docs.memsolus.com/docs/api-reference/exports
type MemoryExport struct {
	ID            string     `json:"id"`
	Format        string     `json:"format"` // json, csv or markdown
	Status        string     `json:"status"` // PENDING, PROCESSING, READY, FAILED, EXPIRED
	UserID        *string    `json:"user_id"`
	AgentID       *string    `json:"agent_id"`
	SessionID     *string    `json:"session_id"`
	Priority      *string    `json:"priority"` // LOW, MEDIUM or HIGH
	Categories    []string   `json:"categories"`
	CreatedAfter  *string    `json:"created_after"`
	CreatedBefore *string    `json:"created_before"`
	CreatedAt     *time.Time `json:"created_at"`
	UpdatedAt     *time.Time `json:"updated_at"`
}

// MemoryExportRequest holds the filters of a new Memsolus export, sent as
// query parameters. Empty fields are left out; with none set, every memory
// of the workspace is exported.
type MemoryExportRequest struct {
	Format        string     `url:"format,omitempty"` // json (default), csv or markdown, in any case
	UserID        string     `url:"user_id,omitempty"`
	AgentID       string     `url:"agent_id,omitempty"`
	SessionID     string     `url:"session_id,omitempty"`
	Priority      string     `url:"priority,omitempty"`         // LOW, MEDIUM or HIGH, in any case
	Categories    []string   `url:"categories,comma,omitempty"` // at most 20
	CreatedAfter  *time.Time `url:"created_after,omitempty"`
	CreatedBefore *time.Time `url:"created_before,omitempty"`
}

// MaxMemoryCategories is the most categories a Memsolus export may filter on.
const MaxMemoryCategories = 20

// ListOptions pages through a Memsolus list. Page is 1-based; PageSize is
// at most 100. Zero values use the server's defaults.
type ListOptions struct {
	Page     int `url:"page,omitempty"`
	PageSize int `url:"page_size,omitempty"`
}

// MemoryExportPage is one page of Memsolus exports.
type MemoryExportPage struct {
	Data []*MemoryExport `json:"data"`
	Meta *PageMeta       `json:"meta"`
}

// PageMeta is Memsolus' pagination metadata.
type PageMeta struct {
	CurrentPage int `json:"current_page"`
	PerPage     int `json:"per_page"`
	Total       int `json:"total"`
	LastPage    int `json:"last_page"`
}

// UnmarshalJSON accepts {data:[…], meta:{…}} and a bare array.
func (p *MemoryExportPage) UnmarshalJSON(b []byte) error {
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "[") {
		*p = MemoryExportPage{}
		return json.Unmarshal(b, &p.Data)
	}
	type plain MemoryExportPage
	return json.Unmarshal(b, (*plain)(p))
}

var memsolusStates = stateMap{
	"pending":    StatePending,
	"processing": StateRunning,
	"ready":      StateReady,
	"failed":     StateFailed,
	"expired":    StateExpired,
}

// MemoryRetention is how long Memsolus keeps a file after the export turns
// READY; after that the status becomes EXPIRED.
const MemoryRetention = 72 * time.Hour

// Vendor returns [Memsolus].
func (e *MemoryExport) Vendor() Vendor { return Memsolus }

// ExportID returns the export's id.
func (e *MemoryExport) ExportID() string { return e.ID }

// State maps PENDING, PROCESSING, READY, FAILED and EXPIRED.
func (e *MemoryExport) State() State { return memsolusStates.of(e.Status) }

// RawStatus returns Memsolus' status string.
func (e *MemoryExport) RawStatus() string { return e.Status }

// Err returns an [*ExportError] when the export failed or expired.
func (e *MemoryExport) Err() error { return exportErr(e, "", "") }

// Size is always -1: Memsolus does not say how large a file is.
func (e *MemoryExport) Size() int64 { return -1 }

// ExpiresAt estimates when a READY export's file goes away (updated_at plus
// 72 hours). It reports false when the export is not READY or has no
// updated_at.
func (e *MemoryExport) ExpiresAt() (time.Time, bool) {
	if e.State() != StateReady || e.UpdatedAt == nil {
		return time.Time{}, false
	}
	return e.UpdatedAt.Add(MemoryRetention), true
}

// MemoriesService is Memsolus' memory exports API.
//
// Memsolus API docs: https://docs.memsolus.com/docs/api-reference/exports
type MemoriesService struct {
	c   *Client
	api *vendorClient
}

// List returns one page of the account's exports.
//
// Memsolus API: GET /v1/exports?page=&page_size=
func (s *MemoriesService) List(ctx context.Context, opts *ListOptions) (*MemoryExportPage, error) {
	if opts == nil {
		opts = &ListOptions{}
	}
	if opts.Page < 0 || opts.PageSize < 0 || opts.PageSize > 100 {
		return nil, opError(Memsolus, "list exports", "", &inputError{errors.New("page must be ≥ 1 and page size between 1 and 100")})
	}
	q, err := query.Values(opts)
	if err != nil {
		return nil, opError(Memsolus, "list exports", "", err)
	}
	p, _, err := call[MemoryExportPage](ctx, s.api, request{op: "list exports", method: http.MethodGet,
		path: "/v1/exports", query: q})
	return p, err
}

// All iterates over every export, page after page, stopping at the last
// page, at a short or empty page, or at the first error (yielded once).
func (s *MemoriesService) All(ctx context.Context, opts *ListOptions) iter.Seq2[*MemoryExport, error] {
	o := ListOptions{Page: 1}
	if opts != nil {
		o = *opts
	}
	o.Page = max(o.Page, 1)
	return func(yield func(*MemoryExport, error) bool) {
		prevFirst := ""
		for {
			p, err := s.List(ctx, &o)
			if err != nil {
				yield(nil, err)
				return
			}
			if len(p.Data) == 0 {
				return
			}
			if first := p.Data[0].ID; first != "" && first == prevFirst {
				yield(nil, opError(Memsolus, "list exports", "", fmt.Errorf("page %d repeats the previous page: the server ignores paging", o.Page)))
				return
			} else {
				prevFirst = first
			}
			for _, e := range p.Data {
				if !yield(e, nil) {
					return
				}
			}
			size := o.PageSize
			if p.Meta != nil && p.Meta.PerPage > 0 {
				size = p.Meta.PerPage
			}
			switch {
			case p.Meta != nil && p.Meta.LastPage > 0 && o.Page >= p.Meta.LastPage:
				return
			case (p.Meta == nil || p.Meta.LastPage == 0) && size > 0 && len(p.Data) < size:
				return
			}
			o.Page++
		}
	}
}

// Create starts a memory export with the request's filters. The format and
// priority may be given in any case ("CSV"): they are sent in Memsolus'
// spelling. More than [MaxMemoryCategories] categories, an unknown format
// or priority, or a category containing a comma is refused before anything
// is sent, with an error matching [ErrInvalidInput]. The request is sent
// once.
//
// Memsolus API: POST /v1/exports?format=…
func (s *MemoriesService) Create(ctx context.Context, r *MemoryExportRequest) (*MemoryExport, error) {
	if r == nil {
		r = &MemoryExportRequest{}
	}
	req, err := r.normalized()
	if err != nil {
		return nil, opError(Memsolus, "create export", "", err)
	}
	q, err := query.Values(req)
	if err != nil {
		return nil, opError(Memsolus, "create export", "", err)
	}
	e, _, err := call[MemoryExport](ctx, s.api, request{op: "create export", method: http.MethodPost,
		path: "/v1/exports", query: q, noReplay: true})
	if err == nil && e.ID == "" {
		return nil, opError(Memsolus, "create export", "", errors.New("response has no export id"))
	}
	return e, err
}

// normalized checks the request and returns a copy in Memsolus' own
// spelling: a format or priority in any case ("CSV", "high") becomes the
// vendor's ("csv", "HIGH"). What cannot be sent is an error matching
// [ErrInvalidInput].
func (r *MemoryExportRequest) normalized() (*MemoryExportRequest, error) {
	n := *r
	if len(r.Categories) > MaxMemoryCategories {
		return nil, &inputError{fmt.Errorf("%d categories given, at most %d allowed", len(r.Categories), MaxMemoryCategories)}
	}
	for _, c := range r.Categories {
		if c == "" || strings.Contains(c, ",") {
			return nil, &inputError{fmt.Errorf("category %q is empty or contains a comma", c)}
		}
	}
	var ok bool
	if n.Format, ok = oneOf(r.Format, memoryFormats); !ok {
		return nil, &inputError{fmt.Errorf("format %q is not json, csv or markdown", excerpt(r.Format, 64))}
	}
	if n.Priority, ok = oneOf(r.Priority, memoryPriorities); !ok {
		return nil, &inputError{fmt.Errorf("priority %q is not LOW, MEDIUM or HIGH", excerpt(r.Priority, 64))}
	}
	return &n, nil
}

// memoryFormats are the file formats of a Memsolus export, as Memsolus
// spells them; [MemoriesService.Create] takes them in any case.
var memoryFormats = []string{"json", "csv", "markdown"}

// memoryPriorities are the priorities a Memsolus export filters on, as
// Memsolus spells them.
var memoryPriorities = []string{"LOW", "MEDIUM", "HIGH"}

// oneOf returns the value of values that s names in any case; "" names
// nothing and is kept.
func oneOf(s string, values []string) (string, bool) {
	if s == "" {
		return "", true
	}
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v, true
		}
	}
	return s, false
}

// Get reads an export's status.
//
// Memsolus API: GET /v1/exports/{id}
func (s *MemoriesService) Get(ctx context.Context, id string) (*MemoryExport, error) {
	e, _, err := s.get(ctx, id)
	return e, err
}

func (s *MemoriesService) get(ctx context.Context, id string) (*MemoryExport, respInfo, error) {
	seg, err := segment("export id", id)
	if err != nil {
		return nil, respInfo{}, opError(Memsolus, "get export", id, err)
	}
	return call[MemoryExport](ctx, s.api, request{op: "get export", id: id, method: http.MethodGet,
		path: "/v1/exports/" + seg})
}

// Wait polls the export until it is READY, FAILED or EXPIRED.
func (s *MemoriesService) Wait(ctx context.Context, id string, opts ...WaitOption) (*MemoryExport, error) {
	return waitAs[*MemoryExport](ctx, s.c, s.target(id, time.Now()), opts)
}

// Download streams a READY export's file to w from Memsolus' authenticated
// download endpoint, following a redirect to storage without the API key.
func (s *MemoriesService) Download(ctx context.Context, id string, w io.Writer, opts ...DownloadOption) (*DownloadResult, error) {
	return s.c.download(ctx, s.source(id), w, opts)
}

// DownloadFile downloads a READY export's file to path, atomically.
func (s *MemoriesService) DownloadFile(ctx context.Context, id, path string, opts ...DownloadOption) (*DownloadResult, error) {
	return s.c.downloadFile(ctx, s.source(id), path, opts)
}

// Open returns a resuming reader of a READY export's file.
func (s *MemoriesService) Open(ctx context.Context, id string, opts ...DownloadOption) (io.ReadCloser, error) {
	return s.c.open(ctx, s.source(id), opts)
}

func (s *MemoriesService) target(id string, started time.Time) *pollTarget {
	return &pollTarget{
		vendor: Memsolus, id: id, started: started,
		state: resumeState{Vendor: Memsolus, Kind: kindMemoryExport, ID: id},
		read:  func(ctx context.Context) (Export, time.Duration, error) { return asRead(s.get(ctx, id)) },
	}
}

// source: Memsolus serves the bytes itself, at an endpoint that needs the
// API key; it answers 409 while the export is not ready and 410 once it
// expired, so no status read is needed first.
func (s *MemoriesService) source(id string) *fileSource {
	return &fileSource{vendor: Memsolus, id: id, locate: func(ctx context.Context) (*fileLocation, error) {
		seg, err := segment("export id", id)
		if err != nil {
			return nil, opError(Memsolus, "download export", id, err)
		}
		return &fileLocation{size: -1, api: s.api, apiReq: &request{op: "download export", id: id,
			method: http.MethodGet, path: "/v1/exports/" + seg + "/download"}}, nil
	}}
}
