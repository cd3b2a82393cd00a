package exporttest

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/exportkit/exportkit"
)

// Leadpipe Orbit audience runs and their stored CSV exports.
// Orbit API docs: https://docs.leadpipe.com/orbit-api/daily-runs

const orbitBucket = "orbit-intent-exports"

func (s *Server) orbitRoutes() []route {
	const runs = "v1/intent/audiences/*/runs"
	return []route{
		{http.MethodGet, runs, s.orbitListRuns},
		{http.MethodPost, runs, s.orbitCreateRun},
		{http.MethodDelete, runs + "/*", s.orbitCancelRun},
		{http.MethodGet, runs + "/*/results", s.orbitResults},
		{http.MethodPost, runs + "/*/exports", s.orbitCreateExport},
		{http.MethodGet, runs + "/*/exports/*", s.orbitGetExport},
	}
}

// createRun registers a queued run of audience. The caller holds s.mu.
func (s *Server) createRun(audience, idemKey, runType string) *export {
	e := s.newExport(exportkit.Orbit, kindRun, newUUID())
	e.audienceID, e.orgID, e.idemKey, e.runType = audience, s.orgID, idemKey, runType
	e.dataDate = time.Now().UTC().Format(time.DateOnly)
	e.resultRows = s.plannedRows(formatPeopleCSV)
	s.runs[audience] = append(s.runs[audience], e)
	if idemKey != "" {
		s.idem[audience+"\x00"+idemKey] = e
	}
	return e
}

// createOrbitExport registers the stored CSV export of a completed run. The
// caller holds s.mu.
func (s *Server) createOrbitExport(run *export) *export {
	e := s.newExport(exportkit.Orbit, kindExport, newUUID())
	e.audienceID, e.orgID, e.run, run.child = run.audienceID, s.orgID, run, e
	name := "intent-audience-" + run.dataDate + "-" + e.id[:8] + ".csv"
	p := b2Prefix + orbitBucket + "/" + url.PathEscape(run.audienceID) + "/" + run.id + "/" + e.id + ".csv"
	s.attachFile(e, p, name, "text/csv", formatPeopleCSV)
	return e
}

// orbitCreateRun is POST …/runs with {"runType":"manual"} and an optional
// Idempotency-Key (at most 120 characters): the same key returns the same
// run with 200; a new run is 201.
func (s *Server) orbitCreateRun(w http.ResponseWriter, r *http.Request, p []string) {
	var body struct {
		RunType string `json:"runType"`
	}
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, exportkit.Orbit, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid JSON body")
		return
	}
	if body.RunType != "" && body.RunType != "manual" {
		s.writeError(w, exportkit.Orbit, http.StatusBadRequest, "VALIDATION_ERROR", "runType must be manual")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 120 {
		s.writeError(w, exportkit.Orbit, http.StatusBadRequest, "VALIDATION_ERROR", "Idempotency-Key must be at most 120 characters")
		return
	}
	s.mu.Lock()
	code, run := http.StatusOK, s.idem[p[0]+"\x00"+key]
	if key == "" || run == nil {
		code, run = http.StatusCreated, s.createRun(p[0], key, "manual")
	}
	view := orbitRunView(run, time.Now(), false)
	s.mu.Unlock()
	s.createReply(w, code, obj{"data": view, "meta": orbitMeta(w)})
}

// orbitListRuns is GET …/runs?limit= (1..100, default 25), newest first.
// Orbit has no single-run endpoint, so this is how a run is polled: every
// run listed counts a status read.
func (s *Server) orbitListRuns(w http.ResponseWriter, r *http.Request, p []string) {
	limit, ok := intParam(r, "limit", 25, 1, 100)
	if !ok {
		s.writeError(w, exportkit.Orbit, http.StatusBadRequest, "VALIDATION_ERROR", "limit must be between 1 and 100")
		return
	}
	s.mu.Lock()
	all, now := s.runs[p[0]], time.Now()
	data := []obj{}
	for i := len(all) - 1; i >= 0 && len(data) < limit; i-- {
		data = append(data, orbitRunView(all[i], now, true))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, obj{"data": data, "meta": orbitMeta(w)})
}

// findRun finds run id of audience, or nil. The caller holds s.mu.
func (s *Server) findRun(audience, id string) *export {
	e := s.exports[refKey{exportkit.Orbit, id}]
	if e == nil || e.kind != kindRun || e.audienceID != audience {
		return nil
	}
	return e
}

// orbitReply is an answer computed under s.mu and sent after it is
// released: a body, or an error when errCode is set.
type orbitReply struct {
	code    int
	data    any
	errCode string
	msg     string
}

func (s *Server) sendOrbit(w http.ResponseWriter, rep orbitReply) {
	if rep.errCode != "" {
		s.writeError(w, exportkit.Orbit, rep.code, rep.errCode, rep.msg)
		return
	}
	writeJSON(w, rep.code, obj{"data": rep.data, "meta": orbitMeta(w)})
}

var runNotFound = orbitReply{code: http.StatusNotFound, errCode: "RUN_NOT_FOUND", msg: "Run not found"}

// orbitCancelRun is DELETE …/runs/{runId}: only a queued run can be
// cancelled; any other answers 409 RUN_NOT_CANCELLABLE.
func (s *Server) orbitCancelRun(w http.ResponseWriter, _ *http.Request, p []string) {
	s.mu.Lock()
	rep := runNotFound
	if run := s.findRun(p[0], p[1]); run != nil {
		now := time.Now()
		if run.observe(now, false) == exportkit.StatePending {
			run.final, run.doneAt, run.updated = exportkit.StateCanceled, now.UTC(), now.UTC()
			rep = orbitReply{code: http.StatusOK, data: orbitRunView(run, now, false)}
		} else {
			rep = orbitReply{code: http.StatusConflict, errCode: "RUN_NOT_CANCELLABLE", msg: "Only queued runs can be cancelled"}
		}
	}
	s.mu.Unlock()
	s.sendOrbit(w, rep)
}

// orbitResults is GET …/runs/{runId}/results: 202 while queued or running,
// 200 once completed (with no people: the fake does not model them), 409
// when failed or cancelled. It counts as a status read of the run.
func (s *Server) orbitResults(w http.ResponseWriter, r *http.Request, p []string) {
	limit, _ := intParam(r, "limit", 50, 1, 1000)
	offset, _ := intParam(r, "offset", 0, 0, 1<<30)
	s.mu.Lock()
	rep := runNotFound
	if run := s.findRun(p[0], p[1]); run != nil {
		now := time.Now()
		view := orbitRunView(run, now, true)
		data := obj{"run": view, "results": []obj{}, "total": 0, "limit": limit, "offset": offset}
		switch run.observe(now, false) {
		case exportkit.StateReady:
			rep = orbitReply{code: http.StatusOK, data: data}
		case exportkit.StatePending, exportkit.StateRunning:
			data["state"] = view["status"]
			rep = orbitReply{code: http.StatusAccepted, data: data}
		default:
			rep = orbitReply{code: http.StatusConflict, errCode: "RUN_NOT_COMPLETED", msg: fmt.Sprintf("Run is %v; it has no results", view["status"])}
		}
	}
	s.mu.Unlock()
	s.sendOrbit(w, rep)
}

// orbitCreateExport is POST …/runs/{runId}/exports, no body: create or
// reuse. 409 RUN_NOT_COMPLETED until the run completed; a new export is 202
// (processing, null URL); an existing one is 200 and a status read.
func (s *Server) orbitCreateExport(w http.ResponseWriter, _ *http.Request, p []string) {
	s.mu.Lock()
	run := s.findRun(p[0], p[1])
	if run == nil {
		s.mu.Unlock()
		s.sendOrbit(w, runNotFound)
		return
	}
	now := time.Now()
	if st := run.observe(now, false); st != exportkit.StateReady {
		status := orbitRunView(run, now, false)["status"]
		s.mu.Unlock()
		s.sendOrbit(w, orbitReply{code: http.StatusConflict, errCode: "RUN_NOT_COMPLETED",
			msg: fmt.Sprintf("Run is %v; exports need a completed run", status)})
		return
	}
	code, e := http.StatusOK, run.child
	if e == nil {
		code, e = http.StatusAccepted, s.createOrbitExport(run)
	}
	data, f := s.orbitExportView(e, now, code == http.StatusOK)
	s.mu.Unlock()
	s.writeOrbitExport(w, code, data, f)
}

// orbitGetExport is GET …/runs/{runId}/exports/{exportId}: a status read,
// with a freshly signed B2 URL every time once completed. While processing
// it answers 200, or 409 EXPORT_NOT_READY with [OrbitNotReadyConflict].
func (s *Server) orbitGetExport(w http.ResponseWriter, _ *http.Request, p []string) {
	s.mu.Lock()
	e := s.exports[refKey{exportkit.Orbit, p[2]}]
	if e == nil || e.kind != kindExport || e.run.id != p[1] || e.audienceID != p[0] {
		s.mu.Unlock()
		s.writeError(w, exportkit.Orbit, http.StatusNotFound, "EXPORT_NOT_FOUND", "Export not found")
		return
	}
	data, f := s.orbitExportView(e, time.Now(), true)
	s.mu.Unlock()
	if data["export"].(obj)["status"] == "processing" && s.cfg.orbitConflict {
		s.writeError(w, exportkit.Orbit, http.StatusConflict, "EXPORT_NOT_READY", "Stored export is not ready")
		return
	}
	s.writeOrbitExport(w, http.StatusOK, data, f)
}

// writeOrbitExport sends an export envelope. contentSha1 is computed here,
// outside the lock, since hashing a large file takes a while.
func (s *Server) writeOrbitExport(w http.ResponseWriter, code int, data obj, f *file) {
	if f != nil {
		data["export"].(obj)["contentSha1"] = f.sha1()
	}
	writeJSON(w, code, obj{"data": data, "meta": orbitMeta(w)})
}

// orbitRunView is the wire form of an IntentAudienceRun. The caller holds
// s.mu.
func orbitRunView(e *export, now time.Time, advance bool) obj {
	st := e.observe(now, advance)
	status := map[exportkit.State]string{
		exportkit.StatePending: "queued", exportkit.StateRunning: "running", exportkit.StateReady: "completed",
		exportkit.StateFailed: "failed", exportkit.StateCanceled: "cancelled", exportkit.StateExpired: "expired",
	}[st]
	if e.raw != "" {
		status = e.raw
	}
	v := obj{
		"id": e.id, "audienceId": e.audienceID, "organizationId": e.orgID, "status": status,
		"runType": e.runType, "configHash": "cfg_" + e.id[:8], "dataDate": e.dataDate,
		"resultKey": nil, "candidateCount": nil, "resultCount": nil, "attempts": 0, "nextAttemptAt": nil,
		"idempotencyKey": orNil(e.idemKey), "errorCode": nil, "errorMessage": nil,
		"startedAt": stampOrNil(e.started), "completedAt": nil, "cancelledAt": nil,
		"readyEmailSentAt": nil, "readyEmailExportId": nil, "readyEmailError": nil,
		"createdAt": stamp(e.created), "updatedAt": stamp(e.updated),
	}
	if !e.started.IsZero() {
		v["attempts"] = 1
	}
	switch st {
	case exportkit.StateReady:
		v["resultKey"] = "intent/runs/" + e.id + ".parquet"
		v["candidateCount"], v["resultCount"] = e.resultRows+e.resultRows/5, e.resultRows
		v["completedAt"] = stampOrNil(e.doneAt)
	case exportkit.StateFailed:
		v["errorCode"], v["errorMessage"] = orNil(e.failCode), orNil(e.failMessage)
		v["completedAt"] = stampOrNil(e.doneAt)
	case exportkit.StateCanceled:
		v["cancelledAt"] = stampOrNil(e.doneAt)
	}
	return v
}

// orbitExportView is the data of an export envelope: the
// IntentAudienceExport and, once completed, a fresh signed URL. The file is
// returned when contentSha1 must be filled in. The caller holds s.mu.
func (s *Server) orbitExportView(e *export, now time.Time, advance bool) (obj, *file) {
	st := e.observe(now, advance)
	status := map[exportkit.State]string{
		exportkit.StatePending: "processing", exportkit.StateRunning: "processing", exportkit.StateReady: "completed",
		exportkit.StateFailed: "failed", exportkit.StateCanceled: "cancelled", exportkit.StateExpired: "expired",
	}[st]
	if e.raw != "" {
		status = e.raw
	}
	ex := obj{
		"id": e.id, "organizationId": e.orgID, "audienceId": e.audienceID, "runId": e.run.id,
		"exportType": "csv", "status": status, "storageProvider": "b2", "contentType": "text/csv",
		"byteSize": 0, "rowCount": 0, "bucketName": orbitBucket, "fileId": nil, "fileName": nil,
		"contentSha1": nil, "errorCode": nil, "errorMessage": nil, "requestedBy": nil,
		"completedAt": nil, "expiresAt": nil, "createdAt": stamp(e.created), "updatedAt": stamp(e.updated),
	}
	data := obj{"export": ex, "downloadUrl": nil, "downloadUrlExpiresAt": nil, "downloadUrlTtlSeconds": nil}
	switch st {
	case exportkit.StateReady:
		ex["byteSize"], ex["rowCount"] = e.file.size, e.file.rows
		ex["fileId"], ex["fileName"] = "4_z"+e.id[:8]+"_f"+e.id[24:], e.file.name
		ex["completedAt"], ex["expiresAt"] = stampOrNil(e.doneAt), stampOrNil(e.expiresAt())
		if e.servable(now) {
			u, exp, _ := s.signedURL(e, now)
			data["downloadUrl"], data["downloadUrlExpiresAt"] = u, stamp(exp)
			data["downloadUrlTtlSeconds"] = int64(s.urlTTL(exportkit.Orbit) / time.Second)
		}
		return data, e.file
	case exportkit.StateFailed:
		ex["errorCode"], ex["errorMessage"] = orNil(e.failCode), orNil(e.failMessage)
	}
	return data, nil
}
