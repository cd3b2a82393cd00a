package s3dest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/s3dest"
)

// TestCreateAnswerLost cuts the connection of the first
// CreateMultipartUpload once the gateway has created the upload: the
// delivery asks the store for the upload it started and takes it up,
// rather than create a second one that nobody would abort.
func TestCreateAnswerLost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state func(t *testing.T) s3dest.Option // nil: no state kept
		// noList: the credentials may not list uploads; the lost answer's
		// upload cannot be found, a second is created and the first is
		// left to the lifecycle rule (or clean).
		noList bool
	}{
		{"with a state file", func(t *testing.T) s3dest.Option {
			return s3dest.WithStateFile(filepath.Join(t.TempDir(), "s"))
		}, false},
		{"in a state store that keeps states, as exportjob's", func(*testing.T) s3dest.Option {
			return s3dest.WithStateStore(&memStates{keep: true}, "run-1")
		}, false},
		{"without a state", nil, false},
		{"without the permission to list uploads", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			st.countParts()
			st.denyListUploads.Store(tc.noList)
			var lost atomic.Int64
			st.onCreate(func(w http.ResponseWriter, r *http.Request, answer *httptest.ResponseRecorder) {
				if lost.CompareAndSwap(0, 1) {
					cut(t, w)
					return
				}
				passOn(w, answer)
			})
			src := newSource(t, 12<<20)
			var opts []s3dest.Option
			if tc.state != nil {
				opts = append(opts, tc.state(t))
			}
			res, err := src.c.DownloadTo(context.Background(), src.export(t), st.dest("lost.bin", opts...),
				exportkit.WithPartSize(5<<20), exportkit.WithConnections(2))
			require.NoError(t, err)
			assert.Equal(t, int64(1), lost.Load(), "the answer was cut")
			assert.Equal(t, 3, res.Parts)
			r, n := src.reader(t)
			assert.True(t, st.sameObject("lost.bin", r, n), "byte-identical")
			st.denyListUploads.Store(false)
			if tc.noList {
				assert.Equal(t, int64(2), st.creates.Load())
				assert.Len(t, st.openUploads(), 1, "the lost answer's upload, which could not be found")
				return
			}
			assert.Equal(t, int64(1), st.creates.Load(), "one upload created: the one whose answer was lost was taken up")
			assert.Empty(t, st.openUploads(), "no upload left open")
		})
	}
}

// TestKillDuringCreate kills a delivery (a subprocess) with SIGKILL while
// its CreateMultipartUpload is unanswered: the gateway has created the
// upload, the process never heard its id. The state file holds the intent
// saved before the request; the rerun finds that upload in the store,
// takes it up (no second CreateMultipartUpload) and publishes the object,
// leaving no upload open.
func TestKillDuringCreate(t *testing.T) {
	st := newStore(t)
	st.countParts()
	src := newSource(t, killSize)
	statePath := filepath.Join(t.TempDir(), "c.bin.state")
	key := "c.bin"

	created := make(chan string, 1)
	st.onCreate(func(w http.ResponseWriter, r *http.Request, answer *httptest.ResponseRecorder) {
		created <- uploadID(answer)
		<-r.Context().Done() // held until the client is gone
	})
	child := startKillChild(t, st, src, key, statePath)
	var id string
	select {
	case id = <-created:
	case err := <-child.exited:
		t.Fatalf("the child ended before its create was answered: %v\n%s", err, child.out.String())
	case <-time.After(time.Minute):
		child.cmd.Process.Kill()
		<-child.exited
		t.Fatalf("no CreateMultipartUpload in a minute\n%s", child.out.String())
	}
	require.NoError(t, child.cmd.Process.Kill())
	<-child.exited
	st.createHook.Store(nil)
	require.NotEmpty(t, id)
	require.Len(t, st.openUploads(), 1, "the killed delivery's upload is open, its id unknown to it")
	b, err := os.ReadFile(statePath)
	require.NoError(t, err, "the intent was saved before the request")
	require.NotContains(t, string(b), id)

	st.creates.Store(0)
	res, err := src.c.DownloadTo(context.Background(), src.export(t), st.dest(key, s3dest.WithStateFile(statePath)),
		exportkit.WithPartSize(killPartSize), exportkit.WithConnections(2))
	require.NoError(t, err)
	assert.Zero(t, st.creates.Load(), "the upload the killed delivery created was taken up")
	assert.Equal(t, int64(killParts), st.parts.Load())
	assert.True(t, res.Verified)
	r, n := src.reader(t)
	assert.True(t, st.sameObject(key, r, n), "byte-identical")
	assert.Empty(t, st.openUploads())
	_, err = os.Stat(statePath)
	assert.True(t, os.IsNotExist(err), "the state file is gone")
}

// TestCancelDuringCreate cancels a delivery while its
// CreateMultipartUpload is unanswered, the gateway having created the
// upload: the delivery finds that upload and aborts it, leaving none open.
func TestCancelDuringCreate(t *testing.T) {
	st := newStore(t)
	st.countParts()
	src := newSource(t, 12<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st.onCreate(func(w http.ResponseWriter, r *http.Request, answer *httptest.ResponseRecorder) {
		cancel() // the gateway created the upload; its answer never comes
		<-r.Context().Done()
	})
	_, err := src.c.DownloadTo(ctx, src.export(t), st.dest("cancel.bin", s3dest.WithStateFile(filepath.Join(t.TempDir(), "s"))),
		exportkit.WithPartSize(5<<20))
	require.ErrorIs(t, err, context.Canceled)
	st.createHook.Store(nil)
	assert.Equal(t, int64(1), st.creates.Load())
	assert.Empty(t, st.openUploads(), "the upload the cancelled create started was aborted")
}
