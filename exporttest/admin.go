package exporttest

import (
	"net/http"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// The admin endpoints answer, in JSON, what the Server received and what
// it holds, for scripts that drive the fake as a program (exportkit fake).
// They live on the API host under /_exporttest/, need no credential and
// are not recorded as requests:
//
//	GET /_exporttest/requests  every request received, oldest first ([Server.Requests])
//	GET /_exporttest/exports   every export and Orbit run ever created ([Server.Exports])

// AdminPath is the path prefix of the admin endpoints on the API host.
const AdminPath = "/_exporttest/"

// AdminURL is the base URL of the admin endpoints: [Server.URL] (they live
// under [AdminPath] there).
func (s *Server) AdminURL() string { return s.apiURL }

// StateSuperseded is the state [Server.Exports] gives a Kore export that a
// later start on the same bot replaced: Kore reports only a bot's latest
// export, so it can no longer be read or downloaded through the API.
const StateSuperseded exportkit.State = "superseded"

// ExportInfo is one export or Orbit run the Server holds, as
// GET /_exporttest/exports lists it.
type ExportInfo struct {
	Vendor exportkit.Vendor `json:"vendor"`
	Kind   string           `json:"kind"` // "export", or "run" for an Orbit run
	ID     string           `json:"id"`
	// State is its state as a status read would show it now (without
	// counting as one): pending, running, ready, failed, expired, canceled,
	// or superseded for a Kore export a later start replaced. An export
	// whose file was removed ([Server.Expire]) is expired.
	State exportkit.State `json:"state"`
	// Size and SHA1 (hex) are the file's once it is ready; 0 and "" before,
	// and for Orbit runs.
	Size int64  `json:"size"`
	SHA1 string `json:"sha1"`
	// Rows is what the status reports as the file's rows, once ready.
	Rows       int64     `json:"rows"`
	Created    time.Time `json:"created_at"`
	AudienceID string    `json:"audience_id,omitempty"` // Orbit
	RunID      string    `json:"run_id,omitempty"`      // Orbit export: its run
	BotID      string    `json:"bot_id,omitempty"`      // Kore
	// IdempotencyKey is the key an Orbit run was created with.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Exports lists every export and Orbit run the Server holds or ever
// created, oldest first. Reading it moves no export along.
func (s *Server) Exports() []ExportInfo {
	now := time.Now()
	s.mu.Lock()
	out := make([]ExportInfo, 0, len(s.all))
	var files []*file
	for _, e := range s.all {
		info := ExportInfo{Vendor: e.vendor, Kind: "export", ID: e.id, State: e.observe(now, false), Created: e.created}
		switch {
		case e.kind == kindRun:
			info.Kind, info.AudienceID, info.IdempotencyKey = "run", e.audienceID, e.idemKey
		case e.vendor == exportkit.Orbit:
			info.AudienceID, info.RunID = e.audienceID, e.run.id
		case e.vendor == exportkit.Kore:
			info.BotID = e.botID
		}
		var f *file
		if info.State == exportkit.StateReady && e.file != nil {
			f = e.file
			info.Size, info.Rows = f.size, f.rows
		}
		if e.gone {
			info.State = exportkit.StateExpired
		}
		if e.vendor == exportkit.Kore {
			if bot := s.bots[e.botID]; bot[len(bot)-1] != e {
				info.State = StateSuperseded
			}
		}
		out = append(out, info)
		files = append(files, f)
	}
	s.mu.Unlock()
	// Hashing a large file takes a while: not under the lock. Each file's
	// SHA-1 is computed once.
	for i, f := range files {
		if f != nil {
			out[i].SHA1 = f.sha1()
		}
	}
	return out
}

// requestInfo is a request as GET /_exporttest/requests lists it. Headers
// are left out (they hold credentials), and so is a storage request's
// query (its signature).
type requestInfo struct {
	Vendor  exportkit.Vendor `json:"vendor"`
	Method  string           `json:"method"`
	Path    string           `json:"path"`
	Query   string           `json:"query,omitempty"`
	Storage bool             `json:"storage"`
	Status  int              `json:"status"`
	Bytes   int64            `json:"bytes"` // body bytes sent
	Time    time.Time        `json:"time"`
}

// serveAdmin answers the admin endpoints.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, AdminPath)
	if name != "requests" && name != "exports" {
		writeJSON(w, http.StatusNotFound, obj{"message": "no admin endpoint " + r.URL.Path + " (want " + AdminPath + "requests or " + AdminPath + "exports)"})
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, obj{"message": "GET only"})
		return
	}
	if name == "exports" {
		writeJSON(w, http.StatusOK, s.Exports())
		return
	}
	reqs := s.Requests()
	out := make([]requestInfo, len(reqs))
	for i, q := range reqs {
		out[i] = requestInfo{Vendor: q.Vendor, Method: q.Method, Path: q.Path, Storage: q.Storage, Status: q.Status, Bytes: q.Bytes, Time: q.Time}
		if !q.Storage {
			out[i].Query = q.RawQuery
		}
	}
	writeJSON(w, http.StatusOK, out)
}
