package s3dest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/exportkit/exportkit/internal/bench"
)

// gateway is the package's Versity S3 gateway: started here when
// versitygw is installed and EXPORTKIT_S3_ENDPOINT does not name one.
var gateway struct {
	endpoint, access, secret string
	why                      string // why there is none
}

// TestMain starts the gateway the tests store into, and fails the tests
// when a goroutine outlives them.
func TestMain(m *testing.M) {
	code := run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M) int {
	if ep := os.Getenv("EXPORTKIT_S3_ENDPOINT"); ep != "" {
		gateway.endpoint = ep
		gateway.access = os.Getenv("EXPORTKIT_S3_ACCESS_KEY_ID")
		gateway.secret = os.Getenv("EXPORTKIT_S3_SECRET_ACCESS_KEY")
		return m.Run()
	}
	if bench.VersityGWPath() == "" {
		gateway.why = "versitygw is not installed (bash .ci/versitygw.sh install installs it)"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "exportkit-versitygw-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	g, err := bench.StartVersityGW(context.Background(), dir)
	if err != nil {
		gateway.why = err.Error()
		return m.Run()
	}
	defer g.Stop()
	gateway.endpoint, gateway.access, gateway.secret = g.Endpoint, bench.VersityAccessKey, bench.VersitySecretKey
	return m.Run()
}
