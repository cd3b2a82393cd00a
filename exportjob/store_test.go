package exportjob

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

func TestOpenRefusesDamagedStores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	st, err := Open(ctx, good)
	require.NoError(t, err)
	// Make the file hold more than a page or two, then close it cleanly.
	_, err = st.db.ExecContext(ctx, `INSERT INTO jobs (name, vendor) VALUES ('a', 'kore')`)
	require.NoError(t, err)
	_, err = st.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	b, err := os.ReadFile(good)
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"not sqlite", []byte("store: exportkit.db\njobs: []\n")},
		{"truncated", b[:len(b)-len(b)/3]},
		{"header only", b[:100]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "exportkit.db")
			require.NoError(t, os.WriteFile(p, tc.data, 0o644))
			_, err := Open(ctx, p)
			require.ErrorIs(t, err, ErrStoreDamaged)
			require.Contains(t, err.Error(), p)
			got, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Equal(t, tc.data, got, "a damaged store is left as it is")
		})
	}
}

func TestOpenNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "exportkit.db")
	st, err := Open(ctx, p)
	require.NoError(t, err)
	_, err = st.db.ExecContext(ctx, `UPDATE schema_version SET version = 99`)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	_, err = Open(ctx, p)
	require.ErrorIs(t, err, ErrStoreDamaged)
	require.ErrorContains(t, err, "schema version 99 is newer")
}

// A store another process holds locked past the busy timeout is a clear
// error, not a hang and not a damaged store.
func TestStoreLocked(t *testing.T) {
	v := newEnv(t)
	v.open().Close()
	raw, err := sql.Open("sqlite", "file:"+v.store)
	require.NoError(t, err)
	defer raw.Close()
	conn, err := raw.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(context.Background(), `BEGIN EXCLUSIVE`)
	require.NoError(t, err)
	defer conn.ExecContext(context.Background(), `ROLLBACK`)

	st, err := open(context.Background(), v.store, storeConfig{busyTimeout: 50 * time.Millisecond})
	if err == nil {
		defer st.Close()
		var e *Engine
		e, err = New(v.client(), st, v.dir, allJobs()[:1])
		require.NoError(t, err)
		_, err = e.Sync(context.Background())
	}
	require.ErrorIs(t, err, ErrStoreLocked)
	require.ErrorContains(t, err, "locked by another process")
}

// A read-only store (as on a read-only mount: the test runs as root, so
// file modes would not stop it) is a clear error before anything is sent,
// and the published files stay.
func TestStoreReadOnly(t *testing.T) {
	v := newEnv(t)
	v.requireDone(v.sync(v.engine(v.client(), allJobs()[:1])), "logs")
	before := v.creates()

	st, err := open(context.Background(), v.store, storeConfig{busyTimeout: time.Second, readOnly: true})
	if err == nil {
		defer st.Close()
		var e *Engine
		e, err = New(v.client(), st, v.dir, allJobs()[:2])
		require.NoError(t, err)
		_, err = e.Sync(context.Background())
	}
	require.ErrorIs(t, err, ErrStoreReadOnly)
	require.Equal(t, before, v.creates(), "nothing sent")
	files, _ := filepath.Glob(filepath.Join(v.dir, "logs", "*"))
	require.Len(t, files, 1)
}

// A store deleted between syncs: the next sync starts a new one, finds
// the published file of the period and keeps it: nothing created again,
// nothing downloaded again.
func TestStoreDeletedKeepsPublished(t *testing.T) {
	v := newEnv(t)
	first := v.sync(v.engine(v.client(), allJobs()))
	v.requireDone(first, "logs", "memories", "audience", "bot")
	reqs := len(v.srv.Requests())
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(v.store + suffix)
	}
	res := v.sync(v.engine(v.client(), allJobs()))
	v.requireDone(res, "logs", "memories", "bot")
	for name, r := range res {
		require.Equal(t, first[name].Run.SHA1, r.Run.SHA1, name)
		require.Equal(t, first[name].Run.File, r.Run.File, name)
	}
	require.Len(t, v.srv.Requests(), reqs, "no request at all")
}

// The disk fills while publishing: the run fails with the cause and
// keeps its downloaded file; the files already published stay; the next
// sync publishes it without creating or downloading anything again.
func TestDiskFullWhilePublishing(t *testing.T) {
	v := newEnv(t)
	v.requireDone(v.sync(v.engine(v.client(), allJobs()[1:2])), "memories")

	later := func() time.Time { return time.Now().Add(DefaultEvery) } // the next period
	e := v.engine(v.client(), allJobs()[1:2], withClock(later))
	e.rename = func(from, to string) error { return &os.LinkError{Op: "rename", Old: from, New: to, Err: errNoSpace} }
	r := v.sync(e)["memories"]
	require.Equal(t, StateFailed, r.Run.State)
	require.True(t, r.Run.Retryable())
	require.ErrorContains(t, r.Err, "no space left on device")
	files, _ := filepath.Glob(filepath.Join(v.dir, "memories", "*.json"))
	require.Len(t, files, 1, "the earlier file stays; the new one is not published")
	reqs := len(v.srv.Requests())

	r = v.sync(v.engine(v.client(), allJobs()[1:2], withClock(later)))["memories"]
	v.requireDone(map[string]Result{"memories": r}, "memories")
	require.Equal(t, reqs, len(v.srv.Requests()), "published from the downloaded file: no request")
	files, _ = filepath.Glob(filepath.Join(v.dir, "memories", "*.json"))
	require.Len(t, files, 2)
	require.Equal(t, 2, v.creates()[exportkit.Memsolus])
}

// The watermark advances only with a published file.
func TestWatermarkAdvancesOnPublish(t *testing.T) {
	v := newEnv(t)
	e := v.engine(v.client(), allJobs()[:1])
	e.rename = func(string, string) error { return errNoSpace }
	v.sync(e)
	w, err := e.st.Watermark(context.Background(), "logs")
	require.NoError(t, err)
	require.True(t, w.IsZero())
	e2 := v.engine(v.client(), allJobs()[:1])
	v.requireDone(v.sync(e2), "logs")
	w, err = e2.st.Watermark(context.Background(), "logs")
	require.NoError(t, err)
	require.Equal(t, periodOf(time.Now(), DefaultEvery).End, w)
}

// A store whose disk is full (SQLite's own limit stands in for the disk)
// is a clear error, and what it held stays readable.
func TestStoreFull(t *testing.T) {
	v := newEnv(t)
	v.requireDone(v.sync(v.engine(v.client(), allJobs()[:1])), "logs")
	st := v.open()
	var pages int
	require.NoError(t, st.db.QueryRow(`PRAGMA page_count`).Scan(&pages))
	_, err := st.db.Exec(`PRAGMA max_page_count = ` + strconv.Itoa(pages))
	require.NoError(t, err)
	var jobs []Job
	for i := range 200 {
		jobs = append(jobs, Job{Name: "bot" + strconv.Itoa(i), Vendor: exportkit.Kore, Params: map[string]string{"bot": "b"}})
	}
	e, err := New(v.client(), st, v.dir, jobs)
	require.NoError(t, err)
	_, err = e.Sync(context.Background())
	require.ErrorIs(t, err, ErrStoreFull)
	require.ErrorContains(t, err, "disk full")
	runs, err := st.Runs(context.Background(), "logs")
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, StateDone, runs[0].State)
}
