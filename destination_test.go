package exportkit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// memDest is a Destination that keeps the file in memory: it reads the
// plan's parts on every connection at once and hashes them in order.
type memDest struct {
	minPart  int64
	maxParts int
	got      []byte
	plan     []exportkit.Part
	info     map[string]any
}

func (m *memDest) Deliver(ctx context.Context, t *exportkit.Transfer) (*exportkit.Delivery, error) {
	m.info = map[string]any{"key": t.Key(), "size": t.Size(), "etag": t.ETag(), "sha1": t.SHA1(),
		"ranged": t.Ranged(), "type": t.ContentType(), "name": t.FileName(), "conns": t.Connections()}
	m.plan = t.Plan(m.minPart, m.maxParts)
	m.got = make([]byte, t.Size())
	var wg sync.WaitGroup
	errs := make([]error, len(m.plan))
	sem := make(chan struct{}, t.Connections())
	for i, p := range m.plan {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = t.ReadAt(ctx, m.got[p.Start:p.End], p.Start)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if t.Hashing() {
		t.Hash(m.got)
		if t.Hashed() != t.Size() {
			return nil, errors.New("hashed the wrong length")
		}
		if st, err := t.HashState(); err != nil || len(st) == 0 {
			return nil, fmt.Errorf("hash state: %v", err)
		}
		if t.RestoreHash([]byte("{")) == nil {
			return nil, errors.New("a damaged hash state was taken")
		}
	}
	t.Reused(0)
	if err := t.Verify(t.Size()); err != nil {
		return nil, err
	}
	return &exportkit.Delivery{Location: "mem://x", Bytes: t.Size(), Parts: len(m.plan)}, nil
}

func TestDownloadToDestination(t *testing.T) {
	srv := exporttest.NewServer(exporttest.FileSize(3<<20 + 17))
	defer srv.Close()
	c := srv.Client()
	ref, err := srv.AddExport(exportkit.Orbit)
	require.NoError(t, err)
	e, err := c.Audiences.GetExport(context.Background(), exportkit.ExportRef{AudienceID: ref.AudienceID, RunID: ref.RunID, ExportID: ref.ID})
	require.NoError(t, err)
	d := &memDest{minPart: 1 << 20, maxParts: 10000}
	res, err := c.DownloadTo(context.Background(), e, d, exportkit.WithPartSize(1<<20), exportkit.WithConnections(3))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(srv.File(exportkit.Orbit, ref.ID), d.got))
	assert.Len(t, d.plan, 4)
	assert.Equal(t, exportkit.Part{Number: 4, Start: 3 << 20, End: 3<<20 + 17}, d.plan[3])
	assert.Equal(t, int64(17), d.plan[3].Size())
	assert.True(t, res.Verified)
	assert.Len(t, res.SHA1, 40)
	assert.Equal(t, "mem://x", res.Location)
	assert.Equal(t, 4, res.Parts)
	assert.Equal(t, true, d.info["ranged"])
	assert.Equal(t, 3, d.info["conns"])
	assert.Equal(t, "orbit:"+ref.ID, d.info["key"])
	assert.NotEmpty(t, d.info["etag"])
	assert.Len(t, d.info["sha1"], 40)

	// A plan keeps within maxParts: parts grow in whole MiB.
	d = &memDest{minPart: 1 << 20, maxParts: 2}
	_, err = c.DownloadTo(context.Background(), e, d, exportkit.WithPartSize(1<<20))
	require.NoError(t, err)
	require.Len(t, d.plan, 2)
	assert.Equal(t, int64(2<<20), d.plan[0].Size())

	// A file changed on the server since the export was read no longer
	// matches the vendor's SHA-1 (s3dest's tests change it mid-copy: then
	// If-Match makes it ErrFileChanged).
	require.NoError(t, srv.ChangeFile(exportkit.Orbit, ref.ID))
	_, err = c.DownloadTo(context.Background(), e, &memDest{minPart: 1 << 20, maxParts: 10000}, exportkit.WithPartSize(1<<20))
	require.ErrorIs(t, err, exportkit.ErrChecksumMismatch)

	_, err = c.DownloadTo(context.Background(), e, nil)
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
	var nilDest *memDest
	_, err = c.DownloadTo(context.Background(), e, nilDest)
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
	_, err = c.DownloadTo(context.Background(), e, d, exportkit.WithConnections(0))
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
}

// TestRootImportsNoCloudSDK: the SDK package stays free of the AWS SDK
// (and any database); s3dest brings it in for those who import s3dest.
func TestRootImportsNoCloudSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/exportkit/exportkit").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/aws/", "gocloud.dev", "modernc.org/sqlite", "cloud.google.com", "github.com/Azure/"} {
			assert.False(t, strings.HasPrefix(dep, banned), "the root package depends on %s", dep)
		}
	}
}
