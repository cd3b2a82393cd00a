package exportjob

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/exportkit/exportkit"
)

// Vendor is what the engine needs of one vendor's export type. The engine
// decides when each method runs; the methods act and never keep state.
// Each vendor's implementation is one file of this package, registered by
// its vendor name: the engine knows no vendor.
type Vendor interface {
	// Check refuses parameters the vendor does not take, before any
	// request; the error names the parameter.
	Check(params map[string]string) error
	// Ext is the extension of the job's files, without the dot.
	Ext(params map[string]string) string
	// Serial names what a run holds for its whole life, so that only one
	// run at a time has it (Kore's bot, whose next export replaces the
	// last); "" for nothing.
	Serial(params map[string]string) string
	// Create starts the export an intent describes. It is called once per
	// intent: a create is never sent twice for one intent.
	Create(ctx context.Context, c *exportkit.Client, in *Intent) (exportkit.Export, error)
	// Reconcile returns every export the vendor holds that the intent
	// could have created (its parameters, created at or after in.Since).
	Reconcile(ctx context.Context, c *exportkit.Client, in *Intent) ([]exportkit.Export, error)
	// File returns, for a ready export, the export whose file is the run's
	// file to wait on next (Orbit: a completed run's stored CSV export), or
	// nil when that is e itself.
	File(ctx context.Context, c *exportkit.Client, e exportkit.Export) (exportkit.Export, error)
	// Rows returns the row count a ready export reports, or -1.
	Rows(e exportkit.Export) int64
}

// vendors holds each vendor's implementation, registered by its file.
var vendors = map[exportkit.Vendor]Vendor{}

func register(name exportkit.Vendor, v Vendor) { vendors[name] = v }

// checkParams refuses a parameter not in allowed and a missing required
// one.
func checkParams(params map[string]string, allowed []string, required ...string) error {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("unknown parameter %q (this vendor takes %s)", k, strings.Join(allowed, ", "))
		}
	}
	for _, k := range required {
		if strings.TrimSpace(params[k]) == "" {
			return fmt.Errorf("parameter %q is required", k)
		}
	}
	return nil
}

// oneOfFold reports whether s is empty or one of values in any case.
func oneOfFold(s string, values ...string) bool {
	if s == "" {
		return true
	}
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}
