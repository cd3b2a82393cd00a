package exportkit_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// wait, retry and download must end with its call.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
