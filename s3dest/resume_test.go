package s3dest_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/exportkit/exportkit/s3dest"
)

const (
	killSize     = 64 << 20
	killPartSize = 5 << 20
	killParts    = (killSize + killPartSize - 1) / killPartSize // 13
)

// TestKillAndResume kills a delivery (a subprocess) with SIGKILL once half
// its parts went up, then runs it again: the rerun finds the upload in the
// state file, asks the store which parts it has (ListParts), uploads only
// the missing ones, and publishes an object byte-identical to the source.
func TestKillAndResume(t *testing.T) {
	st := newStore(t)
	st.countParts()
	src := newSource(t, killSize)
	statePath := filepath.Join(t.TempDir(), "k.bin.state")
	key := "k.bin"

	killed := make(chan struct{})
	child := startKillChild(t, st, src, key, statePath)
	st.onPart(killParts/2, func() {
		child.cmd.Process.Kill()
		close(killed)
	})
	err := <-child.exited
	select {
	case <-killed:
	default:
		t.Fatalf("the child ended before it was killed: %v\n%s", err, child.out.String())
	}
	st.afterPart.Store(nil)

	b, err := os.ReadFile(statePath)
	require.NoError(t, err, "the killed delivery left its state file")
	var saved struct {
		UploadID    string `json:"uploadId"`
		HashedParts int    `json:"hashedParts"`
	}
	require.NoError(t, json.Unmarshal(b, &saved))
	lp, err := st.s3.ListParts(context.Background(), &s3.ListPartsInput{Bucket: &st.bucket, Key: aws.String(key), UploadId: &saved.UploadID})
	require.NoError(t, err)
	have := len(lp.Parts)
	require.Greater(t, have, 0)
	require.Less(t, have, killParts)
	t.Logf("killed with %d of %d parts stored, %d hashed in the state file", have, killParts, saved.HashedParts)

	st.parts.Store(0)
	res, err := src.c.DownloadTo(context.Background(), src.export(t), st.dest(key, s3dest.WithStateFile(statePath)),
		exportkit.WithPartSize(killPartSize), exportkit.WithConnections(2))
	require.NoError(t, err)
	// A part sent just before the kill may land in the gateway after the
	// count above (its bytes were in the socket): the rerun's own
	// ListParts is what Reused reports.
	stored := res.Reused / killPartSize
	assert.GreaterOrEqual(t, stored, int64(have), "the parts stored were taken up")
	assert.Equal(t, int64(killParts)-stored, st.parts.Load(), "only the missing parts went up")
	assert.Equal(t, stored*killPartSize, res.Reused)
	assert.True(t, res.Verified)
	r, n := src.reader(t)
	assert.True(t, st.sameObject(key, r, n), "byte-identical")
	assert.Empty(t, st.openUploads())
	_, err = os.Stat(statePath)
	assert.True(t, os.IsNotExist(err), "the state file is gone")
}

// killChild is TestKillChild run as a subprocess.
type killChild struct {
	cmd    *exec.Cmd
	out    strings.Builder
	exited chan error // its end
}

// startKillChild starts TestKillChild delivering src's export to key in
// st's bucket, its state file at statePath.
func startKillChild(t *testing.T, st *store, src *source, key, statePath string) *killChild {
	t.Helper()
	c := &killChild{cmd: exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1"), exited: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(),
		"EXPORTKIT_S3_KILL_CHILD=1",
		"EXPORTKIT_S3_ENDPOINT="+gateway.endpoint,
		"EXPORTKIT_S3_ACCESS_KEY_ID="+gateway.access,
		"EXPORTKIT_S3_SECRET_ACCESS_KEY="+gateway.secret,
		"EXPORTKIT_CHILD_DEST="+st.url(key),
		"EXPORTKIT_CHILD_STATE="+statePath,
		"EXPORTKIT_CHILD_API="+src.srv.URL(),
		"EXPORTKIT_CHILD_REF="+strings.Join([]string{src.ref.AudienceID, src.ref.RunID, src.ref.ID}, "/"),
	)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	require.NoError(t, c.cmd.Start())
	go func() { c.exited <- c.cmd.Wait() }()
	return c
}

// TestKillChild is the delivery TestKillAndResume kills; it runs only as
// its subprocess.
func TestKillChild(t *testing.T) {
	if os.Getenv("EXPORTKIT_S3_KILL_CHILD") == "" {
		t.Skip("the subprocess of TestKillAndResume")
	}
	s3dest.SetCheckpointEvery(0) // a state file after every part: the kill can land anywhere
	ref := strings.Split(os.Getenv("EXPORTKIT_CHILD_REF"), "/")
	c, err := exportkit.NewClient(exportkit.WithBaseURL(exportkit.Orbit, os.Getenv("EXPORTKIT_CHILD_API")),
		exportkit.WithOrbitAPIKey(exporttest.OrbitAPIKey))
	require.NoError(t, err)
	ctx := context.Background()
	e, err := c.Audiences.GetExport(ctx, exportkit.ExportRef{AudienceID: ref[0], RunID: ref[1], ExportID: ref[2]})
	require.NoError(t, err)
	d, err := s3dest.New(ctx, os.Getenv("EXPORTKIT_CHILD_DEST"), s3dest.WithStateFile(os.Getenv("EXPORTKIT_CHILD_STATE")),
		s3dest.WithCredentials(staticCreds()))
	require.NoError(t, err)
	_, err = c.DownloadTo(ctx, e, d, exportkit.WithPartSize(killPartSize), exportkit.WithConnections(2))
	t.Fatalf("the delivery ended before the kill: %v", err)
}
