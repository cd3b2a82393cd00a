package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
)

// TestTimedOutWording: whatever stage ran out of time, and however the
// SDK or net/http said so, the message ends the same way, with the
// duration the user gave.
func TestTimedOutWording(t *testing.T) {
	r := &runner{o: &cmdOpts{timeout: timeoutFlag{90 * time.Second, "90s"}}, deadline: time.Now().Add(-time.Millisecond)}
	for _, err := range []error{
		fmt.Errorf("exportkit: brainbase: get export \"x\": %w", context.DeadlineExceeded),
		fmt.Errorf("exportkit: orbit: wait \"a/r\": %w after 1m2.5s", exportkit.ErrWaitTimeout),
		fmt.Errorf("exportkit: orbit: wait \"a/r\": %w", exportkit.ErrWaitTimeout),
	} {
		got := r.timedOut(context.Background(), err)
		if msg := got.Error(); !strings.HasSuffix(msg, ": timed out after 90s") || strings.Count(msg, "exportkit: ") != 1 {
			t.Errorf("%q became %q", err, msg)
		}
		if !errors.Is(got, context.DeadlineExceeded) && !errors.Is(got, exportkit.ErrWaitTimeout) {
			t.Errorf("%q lost its cause", got)
		}
	}
	other := errors.New("exportkit: brainbase: get export \"x\": 404 Not Found")
	if got := r.timedOut(context.Background(), other); got != other {
		t.Errorf("a non-timeout error was reworded: %q", got)
	}
}
