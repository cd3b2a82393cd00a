// Package exportkit makes asynchronous "export job" APIs boring to use.
//
// Many SaaS APIs hand out data the same way: ask for an export, poll a status
// endpoint until it is ready, then fetch a file from a short-lived signed URL.
// exportkit does that loop once, well, for four vendor APIs behind one
// interface:
//
//   - Brainbase Labs log exports ([ExportsService])
//   - Memsolus memory exports ([MemoriesService])
//   - Leadpipe Orbit audience runs and CSV exports ([AudiencesService])
//   - Kore.ai XO bot exports ([BotsService])
//
// A [Client] holds one service per vendor. Every vendor's export type
// implements [Export], so code that only needs "wait for it, then download it"
// can treat them alike through [Client.Wait] and [Client.Download].
//
// Waiting polls with capped, jittered exponential backoff and honours
// Retry-After as a floor. Downloads stream, resume after a dropped
// connection, verify sizes and checksums in the same pass, and never send a
// vendor credential to a storage host. Errors can be inspected with
// [errors.Is] against the sentinels in this package ([ErrNotFound],
// [ErrExportFailed], …) and with [errors.As] for [*APIError] and
// [*ExportError].
//
// The package exporttest provides a fake server that speaks all four APIs,
// for tests that must not touch the network.
package exportkit

// Version is the version of this module, sent in the User-Agent header as
// "exportkit/<Version>".
const Version = "0.1.0"

// Vendor names one of the export APIs this package speaks.
type Vendor string

// The vendors exportkit supports.
const (
	// Brainbase is Brainbase Labs' team log exports API.
	Brainbase Vendor = "brainbase"
	// Memsolus is Memsolus' memory exports API.
	Memsolus Vendor = "memsolus"
	// Orbit is Leadpipe's Orbit audience intent API (runs and CSV exports).
	Orbit Vendor = "orbit"
	// Kore is the Kore.ai XO platform's bot export API.
	Kore Vendor = "kore"
)

// vendors lists every vendor in a stable order.
var vendors = [...]Vendor{Brainbase, Memsolus, Orbit, Kore}

// String returns the vendor's name.
func (v Vendor) String() string { return string(v) }

// valid reports whether v is one of the supported vendors.
func (v Vendor) valid() bool {
	for _, k := range vendors {
		if v == k {
			return true
		}
	}
	return false
}

// State is the normalized state of an export job, the same for every vendor.
// The vendor's own status string is kept by each export type (see
// [Export.RawStatus]).
type State string

// The normalized export states.
const (
	StatePending  State = "pending"
	StateRunning  State = "running"
	StateReady    State = "ready"
	StateFailed   State = "failed"
	StateExpired  State = "expired"
	StateCanceled State = "canceled"
	// StateUnknown is a status string this version does not know. It is not
	// terminal: a wait goes on until the status changes or time runs out.
	StateUnknown State = "unknown"
)

// Terminal reports whether an export in state s will not change any more:
// ready, failed, expired or canceled.
func (s State) Terminal() bool {
	switch s {
	case StateReady, StateFailed, StateExpired, StateCanceled:
		return true
	}
	return false
}

// Export is what every vendor's export job has in common. [*LogExport],
// [*MemoryExport], [*AudienceRun], [*AudienceExport] and [*BotExport]
// implement it.
type Export interface {
	// Vendor returns the vendor the export belongs to.
	Vendor() Vendor
	// ExportID returns the vendor's id of this export job.
	ExportID() string
	// State returns the normalized state.
	State() State
	// RawStatus returns the vendor's own status string, unchanged.
	RawStatus() string
	// Err returns an [*ExportError] when the export failed, expired or was
	// canceled, and nil otherwise.
	Err() error
	// Size returns the expected file size in bytes, or -1 when unknown.
	Size() int64
}

// exportErr builds the error an export in a terminal failure state reports.
func exportErr(e Export, code, msg string) error {
	switch s := e.State(); s {
	case StateFailed, StateExpired, StateCanceled:
		return &ExportError{Vendor: e.Vendor(), ID: e.ExportID(), State: s, Code: code, Message: msg}
	}
	return nil
}

// deref returns *p, or the zero value when p is nil.
func deref[T any](p *T) T {
	if p == nil {
		var z T
		return z
	}
	return *p
}
