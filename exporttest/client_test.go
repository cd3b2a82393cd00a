package exporttest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// TestClientBadOption: a bad option fails loudly, at the call that made
// the mistake, with NewClient's reason; ClientE returns it.
func TestClientBadOption(t *testing.T) {
	srv := exporttest.NewServer(exporttest.InMemory())
	defer srv.Close()
	bad := exportkit.WithRetry(1, -time.Second, 0)

	if _, err := srv.ClientE(bad); err == nil {
		t.Fatal("ClientE accepted a negative retry wait")
	}
	if c := srv.Client(); c == nil {
		t.Fatal("Client() without options is nil")
	}

	var got any
	func() {
		defer func() { got = recover() }()
		c := srv.Client(bad)
		t.Errorf("Client with a bad option returned %v instead of panicking", c)
	}()
	err, ok := got.(error)
	if !ok {
		t.Fatalf("panic value %#v is not an error", got)
	}
	if !strings.Contains(err.Error(), "exporttest: Server.Client: ") || !strings.Contains(err.Error(), "WithRetry") {
		t.Errorf("panic %q does not say what was wrong", err)
	}
	if _, cerr := srv.ClientE(bad); errors.Unwrap(err) == nil || errors.Unwrap(err).Error() != cerr.Error() {
		t.Errorf("panic %q does not wrap ClientE's error %q", err, cerr)
	}
}

// TestClientPollsFast: the client of Client polls every PollMin to PollMax,
// not at the SDK's production 2 s to 15 s, so that the package doc's
// example takes milliseconds; a later WithDefaultWait still wins.
func TestClientPollsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(3))
		defer srv.Close()
		for _, tc := range []struct {
			opts []exportkit.Option
			fast bool
		}{
			{nil, true},
			{[]exportkit.Option{exportkit.WithDefaultWait(exportkit.WithPollInterval(2*time.Second, 15*time.Second))}, false},
		} {
			c := srv.Client(tc.opts...)
			e, err := c.Exports.Create(context.Background(), &exportkit.LogExportRequest{Format: "CSV"})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := c.Exports.Wait(context.Background(), e.ID); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); (took < time.Second) != tc.fast {
				t.Errorf("fast %v: a wait of three reads took %s", tc.fast, took)
			}
		}
	})
}
