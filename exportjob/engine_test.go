package exportjob

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

func TestSyncAllVendors(t *testing.T) {
	v := newEnv(t)
	e := v.engine(v.client(), allJobs())
	res := v.sync(e)
	v.requireDone(res, "logs", "memories", "audience", "bot")
	require.Equal(t, map[exportkit.Vendor]int{exportkit.Brainbase: 1, exportkit.Memsolus: 1, exportkit.Orbit: 1, exportkit.Kore: 1}, v.creates())
	// Brainbase and Orbit report rows: the fake's CSV has them after its header.
	csv, err := os.ReadFile(filepath.Join(v.dir, res["logs"].Run.File))
	require.NoError(t, err)
	require.EqualValues(t, bytes.Count(csv, []byte("\n"))-1, res["logs"].Run.Rows)
	require.Positive(t, res["audience"].Run.Rows)
	require.EqualValues(t, -1, res["memories"].Run.Rows)

	// A second sync in the same period has nothing to do and creates nothing.
	res = v.sync(v.engine(v.client(), allJobs()))
	require.Empty(t, res)
	require.Equal(t, 4, len(v.creates()))
}
