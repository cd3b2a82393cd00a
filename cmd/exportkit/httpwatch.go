package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// httpWatch reads the SDK's debug log of API requests (WithLogger) and
// shows on the command's task line what a status read is waiting for: a
// 429 and the Retry-After the SDK honours, a 5xx or a connection error
// it retries. Without it those waits are seconds of silence. Every other
// record is dropped: the command prints no log.
type httpWatch struct {
	mu sync.Mutex
	tk task
}

// watch sends what the log says to tk's line from now on.
func (h *httpWatch) watch(tk task) {
	h.mu.Lock()
	h.tk = tk
	h.mu.Unlock()
}

func (h *httpWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h *httpWatch) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *httpWatch) WithGroup(string) slog.Handler            { return h }

func (h *httpWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "exportkit: api request" {
		return nil
	}
	var status int
	var errText, retryAfter string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "status":
			status = int(a.Value.Int64())
		case "error":
			errText = a.Value.String()
		case "retry_after":
			retryAfter = a.Value.String()
		}
		return true
	})
	line := retryLine(status, errText, retryAfter)
	if line == "" {
		return nil
	}
	h.mu.Lock()
	tk := h.tk
	h.mu.Unlock()
	if tk != nil {
		tk.status(line)
	}
	return nil
}

// retryLine says what a request's answer makes the SDK do: "" for an
// answer that is not waited on.
func retryLine(status int, errText, retryAfter string) string {
	switch {
	case errText != "":
		if i := strings.LastIndex(errText, ": "); i >= 0 {
			errText = errText[i+2:] // the cause: "connection refused"
		}
		return "request failed (" + errText + "): retrying"
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable && retryAfter != "":
		what := fmt.Sprintf("got %d %s", status, http.StatusText(status))
		if retryAfter == "" {
			return what + ": waiting before the next try"
		}
		if s, err := strconv.Atoi(retryAfter); err == nil {
			return fmt.Sprintf("%s, Retry-After %ds: waiting %s as asked", what, s, time.Duration(s)*time.Second)
		}
		return fmt.Sprintf("%s, Retry-After %s: waiting until then as asked", what, retryAfter)
	case status >= 500 && status != http.StatusNotImplemented:
		return fmt.Sprintf("got %d %s: retrying", status, http.StatusText(status))
	}
	return ""
}
