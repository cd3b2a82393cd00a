package exporttest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// Memsolus memory exports.
// Memsolus API docs: https://docs.memsolus.com/docs/api-reference/exports

func (s *Server) memsolusRoutes() []route {
	return []route{
		{http.MethodGet, "v1/exports", s.memsolusList},
		{http.MethodPost, "v1/exports", s.memsolusCreate},
		{http.MethodGet, "v1/exports/*", s.memsolusGet},
		{http.MethodGet, "v1/exports/*/download", s.memsolusDownload},
	}
}

// memsolusFormats maps a format to its file extension, Content-Type and
// the file's shape.
var memsolusFormats = map[string]struct {
	ext, contentType string
	fm               format
}{
	"json":     {"json", "application/json", formatMemoriesJSON},
	"csv":      {"csv", "text/csv", formatMemoriesCSV},
	"markdown": {"md", "text/markdown", formatMemoriesMarkdown},
}

// createMemsolus registers a new memory export. The caller holds s.mu.
func (s *Server) createMemsolus(format string, filters map[string]any) *export {
	id := newUUID()
	e := s.newExport(exportkit.Memsolus, kindExport, id)
	e.format, e.filters = format, filters
	f := memsolusFormats[format]
	s.attachFile(e, cfPrefix+"memsolus-exports/"+id+"/memories."+f.ext, "memories-"+id+"."+f.ext, f.contentType, f.fm)
	s.lists[exportkit.Memsolus] = append(s.lists[exportkit.Memsolus], e)
	return e
}

// memsolusScope answers 403 when the key lacks scope.
func (s *Server) memsolusScope(w http.ResponseWriter, scope string) bool {
	if s.cfg.memsolusScopes[scope] {
		return true
	}
	s.writeError(w, exportkit.Memsolus, http.StatusForbidden, "FORBIDDEN", "API key is missing the "+scope+" permission")
	return false
}

// memsolusCreate is POST /v1/exports?format=&user_id=&…: query parameters
// only. It answers 202 with the export, or 400 VALIDATION_ERROR.
func (s *Server) memsolusCreate(w http.ResponseWriter, r *http.Request, _ []string) {
	if !s.memsolusScope(w, ScopeExportWrite) {
		return
	}
	q := r.URL.Query()
	bad := func(msg string) {
		s.writeError(w, exportkit.Memsolus, http.StatusBadRequest, "VALIDATION_ERROR", msg)
	}
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	if _, ok := memsolusFormats[format]; !ok {
		bad("format must be one of json, csv, markdown")
		return
	}
	filters := map[string]any{}
	for _, k := range []string{"user_id", "agent_id", "session_id"} {
		filters[k] = orNil(q.Get(k))
	}
	switch p := q.Get("priority"); p {
	case "", "LOW", "MEDIUM", "HIGH":
		filters["priority"] = orNil(p)
	default:
		bad("priority must be one of LOW, MEDIUM, HIGH")
		return
	}
	filters["categories"] = nil
	if c := q.Get("categories"); c != "" {
		var cats []string
		for _, v := range strings.Split(c, ",") {
			if v = strings.TrimSpace(v); v != "" {
				cats = append(cats, v)
			}
		}
		if len(cats) > 20 {
			bad("categories accepts at most 20 values")
			return
		}
		filters["categories"] = cats
	}
	for _, k := range []string{"created_after", "created_before"} {
		v := q.Get(k)
		if _, err := time.Parse(time.RFC3339Nano, v); v != "" && err != nil {
			bad(k + " must be an ISO 8601 date-time")
			return
		}
		filters[k] = orNil(v)
	}
	s.mu.Lock()
	e := s.createMemsolus(format, filters)
	view := memsolusView(e, time.Now(), false)
	s.mu.Unlock()
	s.createReply(w, http.StatusAccepted, view)
}

// memsolusList is GET /v1/exports?page=&page_size=: newest first,
// {data, meta:{current_page, per_page, total, last_page}}, page_size 1..100
// (default 10). A listing does not move exports along.
func (s *Server) memsolusList(w http.ResponseWriter, r *http.Request, _ []string) {
	if !s.memsolusScope(w, ScopeExportRead) {
		return
	}
	page, ok1 := intParam(r, "page", 1, 1, 1<<30)
	size, ok2 := intParam(r, "page_size", 10, 1, 100)
	if !ok1 || !ok2 {
		s.writeError(w, exportkit.Memsolus, http.StatusBadRequest, "VALIDATION_ERROR",
			"page must be at least 1 and page_size between 1 and 100")
		return
	}
	s.mu.Lock()
	all := s.lists[exportkit.Memsolus]
	now := time.Now()
	data := []obj{}
	for i := len(all) - 1 - (page-1)*size; i >= 0 && len(data) < size; i-- {
		data = append(data, memsolusView(all[i], now, false))
	}
	total := len(all)
	s.mu.Unlock()
	last := max(1, (total+size-1)/size)
	writeJSON(w, http.StatusOK, obj{"data": data, "meta": obj{
		"current_page": page, "per_page": size, "total": total, "last_page": last,
	}})
}

// memsolusGet is GET /v1/exports/{id}: a status read.
func (s *Server) memsolusGet(w http.ResponseWriter, r *http.Request, p []string) {
	if !s.memsolusScope(w, ScopeExportRead) {
		return
	}
	s.mu.Lock()
	e := s.exports[refKey{exportkit.Memsolus, p[0]}]
	var view obj
	if e != nil {
		view = memsolusView(e, time.Now(), true)
	}
	s.mu.Unlock()
	if e == nil {
		s.writeError(w, exportkit.Memsolus, http.StatusNotFound, "EXPORT_NOT_FOUND", "Export not found")
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// memsolusDownload is GET /v1/exports/{id}/download: the bytes (Range and
// ETag honoured), or a redirect to storage with [MemsolusDownloadRedirect].
// 404 EXPORT_NOT_FOUND, 409 EXPORT_NOT_READY (EXPORT_FAILED once failed),
// 410 EXPORT_EXPIRED. It is not a status read.
func (s *Server) memsolusDownload(w http.ResponseWriter, r *http.Request, p []string) {
	if !s.memsolusScope(w, ScopeExportRead) {
		return
	}
	now := time.Now()
	s.mu.Lock()
	e := s.exports[refKey{exportkit.Memsolus, p[0]}]
	var st exportkit.State
	var f *file
	var location string
	if e != nil {
		st, f = e.observe(now, false), e.file
		if st == exportkit.StateReady && e.servable(now) && s.cfg.memsolusRedirect >= 0 {
			u, _, _ := s.signedURL(e, now)
			location = s.redirectURL(s.cfg.memsolusRedirect, u)
		}
		if e.gone {
			st = exportkit.StateExpired
		}
	}
	var done time.Time
	if e != nil {
		done = e.doneAt
	}
	s.mu.Unlock()
	switch {
	case e == nil:
		s.writeError(w, exportkit.Memsolus, http.StatusNotFound, "EXPORT_NOT_FOUND", "Export not found")
	case st == exportkit.StateExpired:
		s.writeError(w, exportkit.Memsolus, http.StatusGone, "EXPORT_EXPIRED", "Export has expired and the file is no longer available")
	case st == exportkit.StateFailed || st == exportkit.StateCanceled:
		s.writeError(w, exportkit.Memsolus, http.StatusConflict, "EXPORT_FAILED", "Export failed; there is no file")
	case st != exportkit.StateReady:
		s.writeError(w, exportkit.Memsolus, http.StatusConflict, "EXPORT_NOT_READY", "Export is still processing")
	case location != "":
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusFound)
	default:
		s.serveFile(w, r, exportkit.Memsolus, f, done)
	}
}

// memsolusFilters are the filter fields every export object carries, null
// when not given.
var memsolusFilters = []string{"user_id", "agent_id", "session_id", "priority", "categories", "created_after", "created_before"}

// memsolusView is the wire form of a memory export. The caller holds s.mu.
func memsolusView(e *export, now time.Time, advance bool) obj {
	st := e.observe(now, advance)
	status := map[exportkit.State]string{
		exportkit.StatePending: "PENDING", exportkit.StateRunning: "PROCESSING", exportkit.StateReady: "READY",
		exportkit.StateFailed: "FAILED", exportkit.StateExpired: "EXPIRED", exportkit.StateCanceled: "CANCELLED",
	}[st]
	if e.raw != "" {
		status = e.raw
	}
	v := obj{"id": e.id, "format": e.format, "status": status,
		"created_at": stamp(e.created), "updated_at": stamp(e.updated)}
	for _, k := range memsolusFilters {
		v[k] = e.filters[k]
	}
	return v
}

// intParam reads query parameter name as an integer in [lo, hi], def when
// absent; ok is false when it is present but invalid.
func intParam(r *http.Request, name string, def, lo, hi int) (int, bool) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}
