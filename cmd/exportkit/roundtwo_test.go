package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// jsonError decodes the JSON error line that ends stderr under --json.
func jsonError(t *testing.T, r result) errorJSON {
	t.Helper()
	var e errorJSON
	if err := json.Unmarshal([]byte(lastLine(r.stderr)), &e); err != nil {
		t.Fatalf("stderr does not end with a JSON error: %v\n%s", err, r.stderr)
	}
	return e
}

// TestInputKinds: a format Brainbase does not have is refused locally as
// Memsolus's is (exit 2, invalid_input), and a vendor's own 400 validation
// answer is invalid_input too.
func TestInputKinds(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, v := range []string{"brainbase", "memsolus"} {
		e := jsonError(t, cli(t, srv, "create", v, "--format", "XML", "--json").must(t, exitUsage))
		if e.Kind != "invalid_input" || e.Exit != exitUsage {
			t.Errorf("create %s --format XML: %+v", v, e)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("a refused format sent %d requests", n)
	}
	if err := srv.Inject(exporttest.On(exportkit.Brainbase).Method("POST").Status(400)); err != nil {
		t.Fatal(err)
	}
	e := jsonError(t, cli(t, srv, "create", "brainbase", "--json").must(t, exitUsage))
	if e.Kind != "invalid_input" || !strings.Contains(e.Error, "400") {
		t.Errorf("a vendor's 400: %+v", e)
	}
}
