package exporttest_test

import (
	"errors"
	"strings"
	"testing"
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
