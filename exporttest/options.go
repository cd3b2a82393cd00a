package exporttest

import "time"

// Option configures a Server. Options are values: each sets one part of the
// scenario and documents its default.
type Option func(*config)

type config struct {
	readyAfter       int
	readyAfterDur    time.Duration
	failCode         string
	failMessage      string
	fileSize         int64
	fileContent      []byte
	inMemory         bool
	memsolusScopes   map[string]bool
	memsolusRedirect int // -1: serve bytes; n >= 0: redirect through n extra hops
	orbitConflict    bool
	koreFlatErrors   bool
	koreAllowReplay  bool
	urlTTL           time.Duration
	keepRequests     int // < 0: unlimited
	loseRate         float64
	seed             uint64
}

func defaultConfig() config {
	return config{
		readyAfter:       2,
		fileSize:         64 << 10,
		memsolusScopes:   map[string]bool{ScopeExportRead: true, ScopeExportWrite: true},
		memsolusRedirect: -1,
		keepRequests:     -1,
		seed:             1,
	}
}

// ReadyAfter makes a new export show pending on its first status read,
// running on the next ones, and ready (or failed, see [FailWith]) from read
// n+1 on. ReadyAfter(0) makes it ready on the first read. The default is 2:
// pending, running, ready. A negative n counts as 0.
func ReadyAfter(n int) Option {
	return func(c *config) { c.readyAfter = max(n, 0) }
}

// ReadyAfterDuration makes a new export finish once d has passed since it was
// created, measured with time.Now (so a testing/synctest fake clock drives
// it), whatever the number of reads. Before that, its first status read is
// pending and the later ones running. Zero or a negative d turns it off and
// [ReadyAfter] applies.
func ReadyAfterDuration(d time.Duration) Option {
	return func(c *config) { c.readyAfterDur = max(d, 0) }
}

// FailWith makes every new export (for Orbit, every new run) end failed
// instead of ready, with the vendor's error fields set to code and message
// where the vendor has them. An empty code turns failure off.
func FailWith(code, message string) Option {
	return func(c *config) { c.failCode, c.failMessage = code, message }
}

// FileSize sets the size of each new export's file. Its bytes look like
// the vendor's file, generated from the export's id (so two exports differ
// and [Server.File] can give them back, at any size without holding them):
// CSV with a header row for Brainbase CSV, Memsolus csv and Orbit, a JSON
// array for Brainbase JSON and Memsolus json, a Markdown table for Memsolus
// markdown, and a zip (config.json and botDefinition.json, stored) for
// Kore. The row counts the statuses report are the file's. A file too small
// for one row holds none (and below a few hundred bytes a Kore file is not
// a zip; nor is one above 4 GiB). The default is 64 KiB. A negative n
// counts as 0.
func FileSize(n int64) Option {
	return func(c *config) { c.fileSize, c.fileContent = max(n, 0), nil }
}

// FileContent makes every new export's file exactly b (copied). A status's
// row count then counts b's lines after a CSV header, or the elements of a
// JSON array.
func FileContent(b []byte) Option {
	return func(c *config) { c.fileContent = append([]byte{}, b...) }
}

// InMemory opens no socket: [Server.Transport] serves requests in-process
// and [Server.Client] uses it, so tests can run in a testing/synctest bubble.
// URLs keep their loopback form (see [InMemoryAPIHost] and
// [InMemoryStorageHost]).
func InMemory() Option {
	return func(c *config) { c.inMemory = true }
}

// Memsolus permission scopes. A key missing a scope gets 403 FORBIDDEN.
const (
	ScopeExportRead  = "export.read"  // list, get and download exports
	ScopeExportWrite = "export.write" // create exports
)

// MemsolusScopes sets the permissions of [MemsolusAPIKey]. The default is
// both [ScopeExportRead] and [ScopeExportWrite].
func MemsolusScopes(scopes ...string) Option {
	return func(c *config) {
		c.memsolusScopes = map[string]bool{}
		for _, s := range scopes {
			c.memsolusScopes[s] = true
		}
	}
}

// MemsolusDownloadRedirect makes GET /v1/exports/{id}/download answer 302
// with a signed storage URL instead of the bytes, through extraHops more
// redirects on the storage host first (0: API → storage file; 1: API →
// storage → storage file; …). A negative extraHops counts as 0.
func MemsolusDownloadRedirect(extraHops int) Option {
	return func(c *config) { c.memsolusRedirect = max(extraHops, 0) }
}

// OrbitNotReadyConflict makes GET …/exports/{exportId} answer 409
// EXPORT_NOT_READY while the export is processing, as the Orbit reference
// documents for some deployments. By default it answers 200 with status
// processing and a null downloadUrl.
func OrbitNotReadyConflict() Option {
	return func(c *config) { c.orbitConflict = true }
}

// KoreFlatErrors makes Kore error bodies flat, {"msg":…,"code":…}, instead of
// the default {"errors":[{"msg":…,"code":…}]}.
func KoreFlatErrors() Option {
	return func(c *config) { c.koreFlatErrors = true }
}

// KoreAllowJTIReplay accepts a Kore JWT whose jti was seen before (an app
// without "Enforce JTI"). By default a replayed jti gets 401, so a client
// must mint a fresh token for every request, retries included.
func KoreAllowJTIReplay() Option {
	return func(c *config) { c.koreAllowReplay = true }
}

// SignedURLTTL sets how long every signed storage URL stays valid. The
// defaults are the vendors': 24 h for Brainbase (S3), 1 h for Orbit (B2),
// 15 min for Kore and 5 min for Memsolus redirects. Zero or a negative d
// keeps the defaults.
func SignedURLTTL(d time.Duration) Option {
	return func(c *config) { c.urlTTL = max(d, 0) }
}

// KeepRequests bounds what [Server.Requests] remembers to the last n
// requests, for long or concurrent tests. KeepRequests(0) records nothing.
// The default keeps every request. A negative n keeps every request.
func KeepRequests(n int) Option {
	return func(c *config) { c.keepRequests = n }
}
