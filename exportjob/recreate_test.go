package exportjob

import (
	"context"
	"database/sql"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

// An export that expires before its file is fetched, every time: the run
// is planned again, with a new create, at most WithMaxRecreates times;
// then it stays expired with an error that says so, and no later sync
// creates anything for it.
func TestExpiredRunRecreatedAtMostN(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		max  int
	}{
		{"default", nil, DefaultMaxRecreates},
		{"never", []Option{WithMaxRecreates(0)}, 0},
		{"once", []Option{WithMaxRecreates(1)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			j := allJobs()[0]
			engine := func() *Engine {
				e := v.engine(v.client(), []Job{j}, tc.opts...)
				e.hook = func(p string) {
					if p == string(StateDownloading) {
						r, err := e.st.pending(context.Background(), j.Name)
						require.NoError(t, err)
						require.NoError(t, v.srv.Expire(j.Vendor, r[0].ExportID))
					}
				}
				return e
			}
			for i := 0; i <= tc.max; i++ {
				r := v.sync(engine())[j.Name]
				require.Equal(t, StateExpired, r.Run.State, "sync %d", i)
				require.ErrorIs(t, r.Err, exportkit.ErrExportExpired)
				require.Equal(t, i, r.Run.Recreates)
				require.Equal(t, i+1, v.creates()[j.Vendor])
				if i < tc.max {
					require.NotContains(t, r.Run.Error, "not again")
				} else {
					require.Contains(t, r.Err.Error(), "the most allowed (WithMaxRecreates): not again")
				}
			}
			res := v.sync(engine())
			require.Empty(t, res, "the run stays expired")
			require.Equal(t, tc.max+1, v.creates()[j.Vendor])
			runs, err := v.open().Runs(context.Background(), j.Name)
			require.NoError(t, err)
			require.Len(t, runs, 1)
			require.Equal(t, StateExpired, runs[0].State)
		})
	}
}

// An expired run planned again counts its create intents afresh: one
// whose new intent is found in the store unresolved, with nothing at the
// vendor, is sent once more rather than parked for the intents of the
// export that expired.
func TestRecreatedRunCountsItsOwnIntents(t *testing.T) {
	v := newEnv(t)
	j := allJobs()[0]
	e := v.engine(v.client(), []Job{j})
	e.hook = func(p string) {
		if p == string(StateDownloading) {
			r, err := e.st.pending(context.Background(), j.Name)
			require.NoError(t, err)
			require.NoError(t, v.srv.Expire(j.Vendor, r[0].ExportID))
		}
	}
	require.Equal(t, StateExpired, v.sync(e)[j.Name].Run.State)
	// Planned again, its intent written, and the process gone before the
	// request left: the store holds a creating run with nothing at the vendor.
	e2 := v.engine(v.client(), []Job{j})
	ctx, cancel := context.WithCancel(context.Background())
	e2.hook = func(p string) {
		if p == string(StateCreating) {
			cancel()
		}
	}
	res, err := e2.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, StateCreating, res[0].Run.State)
	require.Equal(t, 2, res[0].Run.Creates)
	v.requireDone(v.sync(v.engine(v.client(), []Job{j})), j.Name)
}

// A store of schema version 1 is migrated: its runs keep their state and
// gain the new columns, and the destination state table is there.
func TestMigrateFromVersion1(t *testing.T) {
	v := newEnv(t)
	db, err := sql.Open("sqlite", v.store)
	require.NoError(t, err)
	_, err = db.Exec(migrations[0] + `CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
		INSERT INTO jobs (name, vendor) VALUES ('logs', 'brainbase');
		INSERT INTO runs (fingerprint, job, period, period_end, vendor, state, creates, updated_at)
		VALUES ('logs@2026-12-01T00:00:00Z', 'logs', 1, 2, 'brainbase', 'expired', 1, 1);`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	st := v.open()
	runs, err := st.Runs(context.Background(), "logs")
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, StateExpired, runs[0].State)
	require.Zero(t, runs[0].Recreates)
	var n int
	require.NoError(t, st.db.QueryRow(`SELECT count(*) FROM dest_state`).Scan(&n))
	var ver int
	require.NoError(t, st.db.QueryRow(`SELECT version FROM schema_version`).Scan(&ver))
	require.Equal(t, SchemaVersion, ver)
}
