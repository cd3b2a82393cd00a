package exportjob

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if point := os.Getenv(killEnv); point != "" {
		os.Exit(killChild(point)) // the child of a SIGKILL test: sync, and die at point
	}
	goleak.VerifyTestMain(m)
}
