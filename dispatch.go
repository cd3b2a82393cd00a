package exportkit

import (
	"context"
	"fmt"
	"reflect"
	"time"
)

// Every export type plugs itself into the polling and download cores
// through two unexported methods, so that no core switches over vendor
// types and a new type needs no edit here.
type (
	// pollable is an export the polling core can read again.
	pollable interface {
		pollTarget(c *Client, started time.Time) *pollTarget
	}
	// downloadSourcer is an export whose file the download core can fetch.
	downloadSourcer interface {
		downloadSource(c *Client) (*fileSource, error)
	}
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
	if err := validExport(e); err != nil {
		return nil, err
	}
	if p, ok := e.(pollable); ok {
		return p.pollTarget(c, time.Now()), nil
	}
	return nil, unsupported(e)
}

// sourceFor plugs any export into the download core. The export's own
// download URL is used first; a fresh one is read when it has expired.
func (c *Client) sourceFor(e Export) (*fileSource, error) {
	if err := validExport(e); err != nil {
		return nil, err
	}
	if d, ok := e.(downloadSourcer); ok {
		return d.downloadSource(c)
	}
	return nil, unsupported(e)
}

// validExport refuses a nil export, typed or not.
func validExport(e Export) error {
	if e == nil {
		return &inputError{fmt.Errorf("exportkit: nil export")}
	}
	if isTypedNil(e) {
		return &inputError{fmt.Errorf("exportkit: the export is nil (a nil %T)", e)}
	}
	return nil
}

// isTypedNil reports whether v is an interface holding a nil pointer (or
// map, func, …), which would panic when used.
func isTypedNil(v any) bool {
	if v == nil {
		return false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func unsupported(e Export) error {
	return &inputError{fmt.Errorf("exportkit: unsupported export type %T (use the types this package returns)", e)}
}

func (e *LogExport) pollTarget(c *Client, started time.Time) *pollTarget {
	return c.Exports.target(e.ID, started)
}

func (e *LogExport) downloadSource(c *Client) (*fileSource, error) {
	return c.Exports.source(e.ID, e), nil
}

func (e *MemoryExport) pollTarget(c *Client, started time.Time) *pollTarget {
	return c.Memories.target(e.ID, started)
}

func (e *MemoryExport) downloadSource(c *Client) (*fileSource, error) {
	return c.Memories.source(e.ID), nil
}

func (e *AudienceRun) pollTarget(c *Client, started time.Time) *pollTarget {
	return c.Audiences.runTarget(e.AudienceID, e.ID, started)
}

// downloadSource of a run is its stored CSV export's: created or reused
// (Orbit's create is idempotent) and waited for at the first status read.
func (e *AudienceRun) downloadSource(c *Client) (*fileSource, error) {
	return c.Audiences.runSource(e), nil
}

func (e *AudienceExport) pollTarget(c *Client, started time.Time) *pollTarget {
	return c.Audiences.exportTarget(e.Ref(), started)
}

func (e *AudienceExport) downloadSource(c *Client) (*fileSource, error) {
	return c.Audiences.source(e.Ref(), e), nil
}

func (e *BotExport) pollTarget(c *Client, started time.Time) *pollTarget {
	return c.Bots.target(e.Bot(), startedExport{id: e.ID, created: e.CreatedOn}, started)
}

func (e *BotExport) downloadSource(c *Client) (*fileSource, error) {
	return c.Bots.source(e.Bot(), startedExport{id: e.ID, created: e.CreatedOn}, e), nil
}
