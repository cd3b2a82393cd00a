package exportjob

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// memsolus: Memsolus memory exports. The period is the export's
// created_after/created_before window. Memsolus takes no idempotency key;
// its list echoes every filter, and all of them must match, with
// created_at at or after the intent less the skew.
type memsolus struct{}

func init() { register(exportkit.Memsolus, memsolus{}) }

func (memsolus) Check(p map[string]string) error {
	if err := checkParams(p, []string{"format", "user", "agent", "session", "priority", "category"}); err != nil {
		return err
	}
	if !oneOfFold(p["format"], "json", "csv", "markdown") {
		return errors.New("format must be json, csv or markdown")
	}
	if !oneOfFold(p["priority"], "LOW", "MEDIUM", "HIGH") {
		return errors.New("priority must be LOW, MEDIUM or HIGH")
	}
	return nil
}

func (memsolus) Ext(p map[string]string) string {
	switch strings.ToLower(p["format"]) {
	case "csv":
		return "csv"
	case "markdown":
		return "md"
	}
	return "json"
}

func (memsolus) Serial(map[string]string) string { return "" }

func (memsolus) request(in *Intent) *exportkit.MemoryExportRequest {
	start, end := in.Period.Start, in.Period.End
	var cats []string
	for c := range strings.SplitSeq(in.Params["category"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			cats = append(cats, c)
		}
	}
	return &exportkit.MemoryExportRequest{Format: in.Params["format"], UserID: in.Params["user"], AgentID: in.Params["agent"],
		SessionID: in.Params["session"], Priority: in.Params["priority"], Categories: cats,
		CreatedAfter: &start, CreatedBefore: &end}
}

func (m memsolus) Create(ctx context.Context, c *exportkit.Client, in *Intent) (exportkit.Export, error) {
	return c.Memories.Create(ctx, m.request(in))
}

func (m memsolus) Reconcile(ctx context.Context, c *exportkit.Client, in *Intent) ([]exportkit.Export, error) {
	want := m.request(in)
	var out []exportkit.Export
	for e, err := range c.Memories.All(ctx, &exportkit.ListOptions{PageSize: 100}) {
		if err != nil {
			return nil, err
		}
		if e.CreatedAt != nil && !e.CreatedAt.Before(in.Since) && memoryMatches(e, want) {
			out = append(out, e)
		}
	}
	return out, nil
}

// memoryMatches reports whether every filter e echoes is the request's.
func memoryMatches(e *exportkit.MemoryExport, r *exportkit.MemoryExportRequest) bool {
	format := r.Format
	if format == "" {
		format = "json"
	}
	cats := slices.Clone(e.Categories)
	want := slices.Clone(r.Categories)
	slices.Sort(cats)
	slices.Sort(want)
	return strings.EqualFold(e.Format, format) &&
		deref(e.UserID) == r.UserID && deref(e.AgentID) == r.AgentID && deref(e.SessionID) == r.SessionID &&
		strings.EqualFold(deref(e.Priority), r.Priority) && slices.Equal(cats, want) &&
		sameTime(e.CreatedAfter, r.CreatedAfter) && sameTime(e.CreatedBefore, r.CreatedBefore)
}

// sameTime compares an echoed time filter with the one sent.
func sameTime(echo *string, sent *time.Time) bool {
	if echo == nil || *echo == "" || sent == nil {
		return (echo == nil || *echo == "") == (sent == nil)
	}
	t, err := time.Parse(time.RFC3339Nano, *echo)
	return err == nil && t.Equal(*sent)
}

func (memsolus) File(context.Context, *exportkit.Client, exportkit.Export) (exportkit.Export, error) {
	return nil, nil
}

func (memsolus) Rows(exportkit.Export) int64 { return -1 }
