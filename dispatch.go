package exportkit

import (
	"context"
	"fmt"
	"time"
)

// Refresh reads the current status of any export a service returned and
// returns it as a new value of the same type.
func (c *Client) Refresh(ctx context.Context, e Export) (Export, error) {
	t, err := c.targetFor(e)
	if err != nil {
		return nil, err
	}
	fresh, _, err := t.read(ctx)
	return fresh, err
}

// targetFor plugs any export into the polling core.
func (c *Client) targetFor(e Export) (*pollTarget, error) {
	now := time.Now()
	switch v := e.(type) {
	case *LogExport:
		if v != nil {
			return c.Exports.target(v.ID, now), nil
		}
	case *MemoryExport:
		if v != nil {
			return c.Memories.target(v.ID, now), nil
		}
	case *AudienceRun:
		if v != nil {
			return c.Audiences.runTarget(v.AudienceID, v.ID, now), nil
		}
	case *AudienceExport:
		if v != nil {
			return c.Audiences.exportTarget(v.Ref(), now), nil
		}
	case *BotExport:
		if v != nil {
			return c.Bots.target(v.Bot(), startedExport{id: v.ID, created: v.CreatedOn}, now), nil
		}
	}
	return nil, unsupported(e)
}

// sourceFor plugs any export into the download core. The export's own
// download URL is used first; a fresh one is read when it has expired.
func (c *Client) sourceFor(e Export) (*fileSource, error) {
	switch v := e.(type) {
	case *LogExport:
		if v != nil {
			return c.Exports.source(v.ID, v), nil
		}
	case *MemoryExport:
		if v != nil {
			return c.Memories.source(v.ID), nil
		}
	case *AudienceRun:
		if v != nil {
			return nil, &inputError{fmt.Errorf("exportkit: orbit: run %q has no file: export it with Audiences.Export", v.ID)}
		}
	case *AudienceExport:
		if v != nil {
			return c.Audiences.source(v.Ref(), v), nil
		}
	case *BotExport:
		if v != nil {
			return c.Bots.source(v.Bot(), startedExport{id: v.ID, created: v.CreatedOn}, v), nil
		}
	}
	return nil, unsupported(e)
}

func unsupported(e Export) error {
	if e == nil {
		return &inputError{fmt.Errorf("exportkit: nil export")}
	}
	return &inputError{fmt.Errorf("exportkit: unsupported export type %T (use the types this package returns)", e)}
}
