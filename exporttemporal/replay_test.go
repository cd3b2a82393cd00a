package exporttemporal

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
)

// Histories recorded from ExportWorkflow runs on a real Temporal server
// (the integration test, with -update-history) replay without a
// nondeterminism error: a change to the workflow that would break
// workflows already running fails here.
func TestExportWorkflowReplaysRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "history_*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "recorded histories: go test -tags integration -run TestIntegrationTimerWaitReplays -update-history")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(ExportWorkflow)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(quietLogger, f))
		})
	}
}
