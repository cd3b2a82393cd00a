package exportjob

import (
	"context"

	"github.com/exportkit/exportkit"
)

// orbit: Leadpipe Orbit audience runs, one snapshot per period. The run's
// Idempotency-Key comes from the stored intent, so a resent create returns
// the same run, and the run list is matched on it. A completed run's file
// is its stored CSV export, created (or reused) by File.
type orbit struct{}

func init() { register(exportkit.Orbit, orbit{}) }

func (orbit) Check(p map[string]string) error {
	return checkParams(p, []string{"audience"}, "audience")
}

func (orbit) Ext(map[string]string) string { return "csv" }

func (orbit) Serial(map[string]string) string { return "" }

func (orbit) Create(ctx context.Context, c *exportkit.Client, in *Intent) (exportkit.Export, error) {
	return c.Audiences.CreateRun(ctx, in.Params["audience"], &exportkit.RunRequest{IdempotencyKey: in.Key})
}

func (orbit) Reconcile(ctx context.Context, c *exportkit.Client, in *Intent) ([]exportkit.Export, error) {
	runs, err := c.Audiences.ListRuns(ctx, in.Params["audience"], &exportkit.RunListOptions{Limit: 100})
	if err != nil {
		return nil, err
	}
	var out []exportkit.Export
	for _, r := range runs {
		if r != nil && deref(r.IdempotencyKey) == in.Key {
			out = append(out, r)
		}
	}
	return out, nil
}

func (orbit) File(ctx context.Context, c *exportkit.Client, e exportkit.Export) (exportkit.Export, error) {
	r, ok := e.(*exportkit.AudienceRun)
	if !ok {
		return nil, nil // the stored export itself
	}
	return c.Audiences.CreateExport(ctx, r.AudienceID, r.ID)
}

func (orbit) Rows(e exportkit.Export) int64 {
	if x, ok := e.(*exportkit.AudienceExport); ok && x.Export.RowCount != nil {
		return *x.Export.RowCount
	}
	return -1
}
