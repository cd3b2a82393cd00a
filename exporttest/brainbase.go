package exporttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// Brainbase Labs team log exports.
// Brainbase API docs: https://docs.usebrainbase.com/sdk/log-exports/get-export-status-and-download-url

func (s *Server) brainbaseRoutes() []route {
	return []route{
		{http.MethodGet, "api/team/exports", s.brainbaseList},
		{http.MethodPost, "api/team/exports", s.brainbaseCreate},
		{http.MethodGet, "api/team/exports/*", s.brainbaseGet},
	}
}

// createBrainbase registers a new log export. The caller holds s.mu.
func (s *Server) createBrainbase(format, logType string) *export {
	id := "exp_" + randHex(12)
	e := s.newExport(exportkit.Brainbase, kindExport, id)
	e.format, e.logType = format, logType
	ext, ct, fm := "csv", "text/csv", formatLogsCSV
	if format == "JSON" {
		ext, ct, fm = "json", "application/json", formatLogsJSON
	}
	s.attachFile(e, s3Prefix+"brainbase-log-exports/team-exports/"+id+"."+ext, "brainbase-logs-"+id+"."+ext, ct, fm)
	s.lists[exportkit.Brainbase] = append(s.lists[exportkit.Brainbase], e)
	return e
}

// brainbaseCreate is POST /api/team/exports with a JSON body
// {format: CSV|JSON, logType, startDate, endDate, …}; the create body is
// undocumented, so other fields are accepted and ignored. The dates, when
// sent, must be RFC 3339 and are echoed on the export. It answers 201 with
// the export.
func (s *Server) brainbaseCreate(w http.ResponseWriter, r *http.Request, _ []string) {
	var body struct {
		Format    string     `json:"format"`
		LogType   string     `json:"logType"`
		StartDate *time.Time `json:"startDate"`
		EndDate   *time.Time `json:"endDate"`
	}
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, exportkit.Brainbase, http.StatusBadRequest, "", "Invalid JSON body: "+err.Error())
		return
	}
	format := strings.ToUpper(body.Format)
	switch format {
	case "":
		format = "CSV"
	case "CSV", "JSON":
	default:
		s.writeError(w, exportkit.Brainbase, http.StatusBadRequest, "", "format must be one of CSV, JSON")
		return
	}
	var start, end time.Time
	if body.StartDate != nil {
		start = body.StartDate.UTC()
	}
	if body.EndDate != nil {
		end = body.EndDate.UTC()
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		s.writeError(w, exportkit.Brainbase, http.StatusBadRequest, "", "endDate must not be before startDate")
		return
	}
	s.mu.Lock()
	e := s.createBrainbase(format, body.LogType)
	e.startDate, e.endDate = start, end
	view := s.brainbaseView(e, time.Now(), false)
	s.mu.Unlock()
	s.createReply(w, http.StatusCreated, view)
}

// brainbaseList is GET /api/team/exports: {"data": […]}, newest first, each
// export as its status read shows it (id, status, format, logType,
// createdAt, startDate and endDate when the create sent them, …). The
// list's real shape is not documented; this is the one exportkit decodes.
// A listing is not a status read: it does not move exports along.
func (s *Server) brainbaseList(w http.ResponseWriter, _ *http.Request, _ []string) {
	s.mu.Lock()
	all := s.lists[exportkit.Brainbase]
	out := make([]obj, 0, len(all))
	now := time.Now()
	for i := len(all) - 1; i >= 0; i-- {
		out = append(out, s.brainbaseView(all[i], now, false))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, obj{"data": out})
}

// brainbaseGet is GET /api/team/exports/{exportId}: a status read, with a
// freshly signed downloadUrl once COMPLETED.
func (s *Server) brainbaseGet(w http.ResponseWriter, _ *http.Request, p []string) {
	s.mu.Lock()
	e := s.exports[refKey{exportkit.Brainbase, p[0]}]
	var view obj
	if e != nil {
		view = s.brainbaseView(e, time.Now(), true)
	}
	s.mu.Unlock()
	if e == nil {
		s.writeError(w, exportkit.Brainbase, http.StatusNotFound, "", "Export not found")
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// brainbaseView is the wire form of a log export. fileSizeBytes is sent as
// a float ("65536.0"): the OpenAPI type is number. The caller holds s.mu.
func (s *Server) brainbaseView(e *export, now time.Time, advance bool) obj {
	st := e.observe(now, advance)
	status := map[exportkit.State]string{
		exportkit.StatePending: "PENDING", exportkit.StateRunning: "PROCESSING", exportkit.StateReady: "COMPLETED",
		exportkit.StateFailed: "FAILED", exportkit.StateExpired: "EXPIRED", exportkit.StateCanceled: "CANCELLED",
	}[st]
	if e.raw != "" {
		status = e.raw
	}
	v := obj{
		"id": e.id, "status": status, "format": e.format, "logType": orNil(e.logType),
		"rowCount": nil, "fileSizeBytes": nil, "downloadUrl": nil, "errorMessage": nil,
		"createdAt": stamp(e.created), "expiresAt": stampOrNil(e.expiresAt()),
	}
	if !e.startDate.IsZero() {
		v["startDate"] = stamp(e.startDate)
	}
	if !e.endDate.IsZero() {
		v["endDate"] = stamp(e.endDate)
	}
	switch st {
	case exportkit.StateReady:
		v["rowCount"] = e.file.rows
		v["fileSizeBytes"] = json.RawMessage(fmt.Sprintf("%d.0", e.file.size))
		if e.servable(now) {
			v["downloadUrl"], _, _ = s.signedURL(e, now)
		}
	case exportkit.StateFailed:
		v["errorMessage"] = orNil(e.failMessage)
		if e.failMessage == "" {
			v["errorMessage"] = e.failCode
		}
	}
	return v
}

// decodeBody reads a JSON request body of at most 1 MiB into v. An empty
// body leaves v as it is.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return err
	}
	if len(b) > 1<<20 {
		return errors.New("body larger than 1 MiB")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}
