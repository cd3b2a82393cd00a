package exportjob

import (
	"context"
	"errors"

	"github.com/exportkit/exportkit"
)

// kore: Kore.ai bot exports, one snapshot per period. A bot has one
// export, its latest, and a new start replaces it: runs of one bot hold
// it in turn (Serial), and reconciliation adopts the latest export when
// it was created at or after the intent less the skew.
type kore struct{}

func init() { register(exportkit.Kore, kore{}) }

func (kore) Check(p map[string]string) error {
	if err := checkParams(p, []string{"bot", "type"}, "bot"); err != nil {
		return err
	}
	if !oneOfFold(p["type"], "latest", "published") {
		return errors.New("type must be latest or published")
	}
	return nil
}

func (kore) Ext(map[string]string) string { return "zip" }

func (kore) Serial(p map[string]string) string { return "kore-bot:" + p["bot"] }

func (kore) Create(ctx context.Context, c *exportkit.Client, in *Intent) (exportkit.Export, error) {
	return c.Bots.StartExport(ctx, in.Params["bot"], &exportkit.BotExportRequest{ExportType: in.Params["type"]})
}

func (kore) Reconcile(ctx context.Context, c *exportkit.Client, in *Intent) ([]exportkit.Export, error) {
	e, err := c.Bots.ExportStatus(ctx, in.Params["bot"])
	switch {
	case errors.Is(err, exportkit.ErrNotFound):
		return nil, nil // the bot has no export at all
	case err != nil:
		return nil, err
	case e.CreatedOn == nil || e.CreatedOn.Before(in.Since):
		return nil, nil
	}
	return []exportkit.Export{e}, nil
}

func (kore) File(context.Context, *exportkit.Client, exportkit.Export) (exportkit.Export, error) {
	return nil, nil
}

func (kore) Rows(exportkit.Export) int64 { return -1 }
