package exporttest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/exportkit/exportkit"
)

// kind tells an Orbit run from an export; every other vendor has exports
// only.
type kind int

const (
	kindExport kind = iota
	kindRun
)

// export is one asynchronous job the Server holds: an export of any vendor,
// or an Orbit run. Guarded by Server.mu.
type export struct {
	vendor  exportkit.Vendor
	kind    kind
	id      string
	created time.Time
	updated time.Time

	reads         int // status reads so far
	readyAfter    int
	readyAfterDur time.Duration
	failCode      string
	failMessage   string
	final         exportkit.State // pinned state: reached or forced; "" while progressing
	raw           string          // status string forced onto the wire; "" for the normal one
	started       time.Time       // when it was first seen running
	doneAt        time.Time       // when it became ready or failed
	gone          bool            // the file was removed from storage
	file          *file

	// Vendor fields.
	format, logType string         // Brainbase (CSV/JSON), Memsolus (json/csv/markdown)
	startDate       time.Time      // Brainbase date range; zero when not sent
	endDate         time.Time      // Brainbase
	filters         map[string]any // Memsolus filters, by wire name
	audienceID      string         // Orbit
	orgID           string         // Orbit
	idemKey         string         // Orbit run
	runType         string         // Orbit run
	resultRows      int64          // Orbit run: the rows its export's CSV will hold
	dataDate        string         // Orbit run
	run             *export        // Orbit export → its run
	child           *export        // Orbit run → its export
	botID           string         // Kore
	exportType      string         // Kore
	createdBy       string         // Kore
}

// Ref names an export held by a Server.
type Ref struct {
	Vendor     exportkit.Vendor
	ID         string // the export's id: Brainbase id, Memsolus id, Orbit export id, Kore _id
	AudienceID string // Orbit only
	RunID      string // Orbit only
	BotID      string // Kore only
}

type refKey struct {
	vendor exportkit.Vendor
	id     string
}

// retention is how long a ready file stays downloadable: Memsolus documents
// 72 h; Brainbase and Orbit keep an expiresAt, set here to 7 days; Kore says
// nothing, so its files stay.
func retention(v exportkit.Vendor) time.Duration {
	switch v {
	case exportkit.Memsolus:
		return 72 * time.Hour
	case exportkit.Brainbase, exportkit.Orbit:
		return 7 * 24 * time.Hour
	}
	return 0
}

// newExport registers a job of vendor v with the Server's progression
// settings. The caller holds s.mu and fills the vendor fields.
func (s *Server) newExport(v exportkit.Vendor, k kind, id string) *export {
	now := time.Now().UTC()
	e := &export{
		vendor: v, kind: k, id: id, created: now, updated: now,
		readyAfter: s.cfg.readyAfter, readyAfterDur: s.cfg.readyAfterDur,
	}
	if k == kindRun || v != exportkit.Orbit {
		e.failCode, e.failMessage = s.cfg.failCode, s.cfg.failMessage
	}
	s.exports[refKey{v, id}] = e
	s.all = append(s.all, e)
	return e
}

// attachFile gives e its file at storage path p, in format fm. The caller holds s.mu.
func (s *Server) attachFile(e *export, p, name, contentType string, fm format) {
	e.file = newFile(string(e.vendor), e.id, 0, s.cfg.fileSize, s.cfg.fileContent, fm)
	e.file.path, e.file.name, e.file.contentType = p, name, contentType
	s.files[p] = e
}

// plannedRows is how many rows a new export's file in format fm holds.
func (s *Server) plannedRows(fm format) int64 {
	if s.cfg.fileContent != nil {
		return countRows(fm, s.cfg.fileContent)
	}
	return newLayout(fm, s.cfg.fileSize, 0).rows
}

// observe returns e's state at now. A status read (advance) counts toward
// ReadyAfter; a listing does not. Reaching ready or failed pins the state.
func (e *export) observe(now time.Time, advance bool) exportkit.State {
	if advance {
		e.reads++
	}
	if e.final == "" {
		done := e.reads > e.readyAfter
		if e.readyAfterDur > 0 {
			done = !now.Before(e.created.Add(e.readyAfterDur))
		}
		if !done {
			if e.reads <= 1 {
				return exportkit.StatePending
			}
			if e.started.IsZero() {
				e.started, e.updated = now, now
			}
			return exportkit.StateRunning
		}
		if e.started.IsZero() {
			e.started = now
		}
		e.final = exportkit.StateReady
		if e.failCode != "" {
			e.final = exportkit.StateFailed
		}
		e.doneAt, e.updated = now, now
	}
	if e.final == exportkit.StateReady && e.kind == kindExport && e.vendor != exportkit.Orbit {
		if r := retention(e.vendor); r > 0 && !now.Before(e.doneAt.Add(r)) {
			e.final, e.updated = exportkit.StateExpired, e.doneAt.Add(r)
		}
	}
	return e.final
}

// expiresAt is when a ready file stops being served, or zero.
func (e *export) expiresAt() time.Time {
	if e.doneAt.IsZero() || retention(e.vendor) == 0 {
		return time.Time{}
	}
	return e.doneAt.Add(retention(e.vendor))
}

// servable reports whether e's file can be downloaded at now.
func (e *export) servable(now time.Time) bool {
	if e.file == nil || e.gone || e.observe(now, false) != exportkit.StateReady {
		return false
	}
	exp := e.expiresAt()
	return exp.IsZero() || now.Before(exp)
}

// lookup finds the export or run id of vendor v. The caller holds s.mu.
func (s *Server) lookup(v exportkit.Vendor, id string) (*export, error) {
	e := s.exports[refKey{v, id}]
	if e == nil {
		return nil, fmt.Errorf("exporttest: no %s export %q", v, id)
	}
	return e, nil
}

// SetState forces the state of the export (or Orbit run) id of vendor v,
// from now on: exportkit.StatePending, StateRunning, StateReady, StateFailed,
// StateExpired or StateCanceled (Orbit runs). A failed export keeps the code
// and message of [FailWith], or gets FORCED_FAILURE.
func (s *Server) SetState(v exportkit.Vendor, id string, st exportkit.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(v, id)
	if err != nil {
		return err
	}
	switch st {
	case exportkit.StatePending, exportkit.StateRunning, exportkit.StateReady, exportkit.StateFailed,
		exportkit.StateExpired, exportkit.StateCanceled:
	default:
		return fmt.Errorf("exporttest: cannot force state %q", st)
	}
	now := time.Now().UTC()
	if st == exportkit.StateFailed && e.failCode == "" {
		e.failCode, e.failMessage = "FORCED_FAILURE", "the export was failed by the test"
	}
	if (st == exportkit.StateReady || st == exportkit.StateFailed) && e.doneAt.IsZero() {
		e.doneAt = now
	}
	e.final, e.updated = st, now
	return nil
}

// FailExport makes the export (or Orbit run) id of vendor v fail now with
// code and message.
func (s *Server) FailExport(v exportkit.Vendor, id, code, message string) error {
	s.mu.Lock()
	e, err := s.lookup(v, id)
	if err == nil {
		e.failCode, e.failMessage = code, message
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.SetState(v, id, exportkit.StateFailed)
}

// SetRawStatus puts raw on the wire as the status of export id of vendor v
// (for example a status string no client knows yet), leaving its real state
// unchanged. An empty raw restores the normal status.
func (s *Server) SetRawStatus(v exportkit.Vendor, id, raw string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(v, id)
	if err == nil {
		e.raw = raw
	}
	return err
}

// Expire ends the life of a ready export: Brainbase and Memsolus show
// EXPIRED (and Memsolus's download answers 410); Orbit and Kore keep their
// status but the storage host no longer has the file (404).
func (s *Server) Expire(v exportkit.Vendor, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(v, id)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	e.gone, e.updated = true, now
	if v == exportkit.Brainbase || v == exportkit.Memsolus {
		e.final = exportkit.StateExpired
	}
	return nil
}

// ChangeFile simulates the stored file changing under the same URL: same
// size, different bytes, a new ETag and SHA-1.
func (s *Server) ChangeFile(v exportkit.Vendor, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(v, id)
	if err != nil || e.file == nil {
		return fileErr(v, id, err)
	}
	old := e.file
	var content []byte
	if old.content != nil {
		content = make([]byte, len(old.content))
		for i, b := range old.content {
			content[i] = b ^ 0x5a
		}
	}
	e.file = newFile(string(v), id, old.version+1, old.size, content, old.format)
	e.file.path, e.file.name, e.file.contentType = old.path, old.name, old.contentType
	return nil
}

// File returns a copy of the bytes of the export id of vendor v, or nil when
// there is no such export. For very large files prefer [Server.FileReader].
func (s *Server) File(v exportkit.Vendor, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(v, id)
	if err != nil || e.file == nil {
		return nil
	}
	return e.file.bytes()
}

// FileReader streams the bytes of the export id of vendor v without holding
// them in memory, and gives their size.
func (s *Server) FileReader(v exportkit.Vendor, id string) (io.Reader, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(v, id)
	if err != nil || e.file == nil {
		return nil, 0, fileErr(v, id, err)
	}
	return e.file.reader(), e.file.size, nil
}

func fileErr(v exportkit.Vendor, id string, err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("exporttest: %s %q has no file", v, id)
}

// AddExport seeds a ready export of vendor v without the create call: for
// Orbit a completed run with a completed export, for Kore a new bot whose
// latest export succeeded.
func (s *Server) AddExport(v exportkit.Vendor) (Ref, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	var e *export
	ref := Ref{Vendor: v}
	switch v {
	case exportkit.Brainbase:
		e = s.createBrainbase("CSV", "VoiceDeploymentLog")
	case exportkit.Memsolus:
		e = s.createMemsolus("json", map[string]any{})
	case exportkit.Orbit:
		ref.AudienceID = newUUID()
		run := s.createRun(ref.AudienceID, "", "manual")
		run.final, run.doneAt, run.failCode = exportkit.StateReady, now, ""
		e = s.createOrbitExport(run)
		ref.RunID = run.id
	case exportkit.Kore:
		ref.BotID = "st-" + newUUID()
		e = s.createKore(ref.BotID, "published")
	default:
		return Ref{}, fmt.Errorf("exporttest: unknown vendor %q", v)
	}
	e.final, e.doneAt, e.failCode = exportkit.StateReady, now, ""
	ref.ID = e.id
	return ref, nil
}

// StartKoreExport simulates an export of botID started elsewhere (another
// user, the Kore UI): it becomes the bot's latest export, so the status
// endpoint reports it instead of any earlier one. It returns its _id.
func (s *Server) StartKoreExport(botID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createKore(botID, "latest").id
}

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randHex returns n random bytes in hex.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stamp formats t the way the vendors do: ISO 8601 in UTC with milliseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// stampOrNil is stamp, or nil (JSON null) for the zero time.
func stampOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return stamp(t)
}

// orNil is s, or nil (JSON null) when s is empty.
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}
