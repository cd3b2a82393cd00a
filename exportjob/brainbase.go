package exportjob

import (
	"context"
	"errors"
	"strings"

	"github.com/exportkit/exportkit"
)

// brainbase: Brainbase Labs log exports. The period is the export's date
// range. Brainbase takes no idempotency key; its list is matched on
// format, log type and createdAt.
type brainbase struct{}

func init() { register(exportkit.Brainbase, brainbase{}) }

func (brainbase) Check(p map[string]string) error {
	if err := checkParams(p, []string{"format", "log-type", "worker", "deployment"}); err != nil {
		return err
	}
	if !oneOfFold(p["format"], "CSV", "JSON") {
		return errors.New(`format must be CSV or JSON`)
	}
	return nil
}

func (brainbase) Ext(p map[string]string) string {
	if strings.EqualFold(p["format"], "JSON") {
		return "json"
	}
	return "csv"
}

func (brainbase) Serial(map[string]string) string { return "" }

func (brainbase) Create(ctx context.Context, c *exportkit.Client, in *Intent) (exportkit.Export, error) {
	start, end := in.Period.Start, in.Period.End
	return c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: in.Params["format"], LogType: in.Params["log-type"],
		WorkerID: in.Params["worker"], DeploymentID: in.Params["deployment"], StartDate: &start, EndDate: &end})
}

func (b brainbase) Reconcile(ctx context.Context, c *exportkit.Client, in *Intent) ([]exportkit.Export, error) {
	list, err := c.Exports.List(ctx)
	if err != nil {
		return nil, err
	}
	format := strings.ToUpper(b.Ext(in.Params))
	var out []exportkit.Export
	for _, e := range list {
		if strings.EqualFold(e.Format, format) && deref(e.LogType) == in.Params["log-type"] && !e.CreatedAt.Before(in.Since) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (brainbase) File(context.Context, *exportkit.Client, exportkit.Export) (exportkit.Export, error) {
	return nil, nil
}

func (brainbase) Rows(e exportkit.Export) int64 {
	if x, ok := e.(*exportkit.LogExport); ok && x.RowCount != nil {
		return *x.RowCount
	}
	return -1
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}
