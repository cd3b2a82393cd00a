package s3dest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/exportkit/exportkit/s3dest"
)

const midSize = 32 << 20 // 7 parts of 5 MiB

// TestDeliverFailuresLeaveNothing: a source replaced mid-copy, a wrong
// SHA-1, a short read that is a wrong size, and a cancel, each after some
// parts went up, leave no object and no open upload.
func TestDeliverFailuresLeaveNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(src *source, cancel context.CancelFunc)
		want  error
	}{
		{"source replaced", func(src *source, _ context.CancelFunc) {
			require.NoError(t, src.srv.ChangeFile(exportkit.Orbit, src.ref.ID))
		}, exportkit.ErrFileChanged},
		{"wrong SHA-1", func(src *source, _ context.CancelFunc) {
			require.NoError(t, src.srv.Inject(exporttest.OnStorage().CorruptAt(midSize-100).Always()))
		}, exportkit.ErrChecksumMismatch},
		{"wrong size", func(src *source, _ context.CancelFunc) {
			require.NoError(t, src.srv.Inject(exporttest.OnStorage().LongContentLength(10).Always()))
		}, exportkit.ErrSizeMismatch},
		{"cancel", func(_ *source, cancel context.CancelFunc) { cancel() }, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			st.countParts()
			src := newSource(t, midSize)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st.onPart(2, func() { tc.spoil(src, cancel) })
			_, err := src.c.DownloadTo(ctx, src.export(t), st.dest("k.bin"),
				exportkit.WithPartSize(5<<20), exportkit.WithConnections(2), exportkit.WithMaxResumes(0))
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, st.object("k.bin"), "no object")
			assert.Empty(t, st.openUploads(), "no open upload")
		})
	}
}

// TestDeliverFirstSizeWrong: a first answer whose length is not what it
// announces fails before any upload starts.
func TestDeliverFirstSizeWrong(t *testing.T) {
	st := newStore(t)
	src := newSource(t, midSize)
	require.NoError(t, src.srv.Inject(exporttest.OnStorage().LongContentLength(10)))
	_, err := src.c.DownloadTo(context.Background(), src.export(t), st.dest("k.bin"), exportkit.WithMaxResumes(0))
	require.ErrorIs(t, err, exportkit.ErrSizeMismatch)
	assert.Nil(t, st.object("k.bin"))
	assert.Empty(t, st.openUploads())
}

// TestDeliverExistingObject: an object already there is refused, and kept,
// unless WithForce; one that appears while the parts go up is refused by
// If-None-Match on CompleteMultipartUpload.
func TestDeliverExistingObject(t *testing.T) {
	st := newStore(t)
	st.countParts()
	old := []byte("the earlier object")
	put := func(key string) {
		_, err := st.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &st.bucket, Key: aws.String(key), Body: strings.NewReader(string(old))})
		require.NoError(t, err)
	}
	put("there.bin")
	src := newSource(t, midSize)
	_, err := src.c.DownloadTo(context.Background(), src.export(t), st.dest("there.bin"), exportkit.WithPartSize(5<<20))
	require.ErrorIs(t, err, s3dest.ErrExists)
	assert.Contains(t, err.Error(), "--force")
	assert.Equal(t, old, st.object("there.bin"))
	assert.Zero(t, st.parts.Load(), "refused before any part went up")

	// Small files go up in one PutObject, with If-None-Match too.
	small := newSource(t, 1000)
	_, err = small.c.DownloadTo(context.Background(), small.export(t), st.dest("there.bin"))
	require.ErrorIs(t, err, s3dest.ErrExists)

	st.onPart(2, func() { put("race.bin") })
	_, err = src.c.DownloadTo(context.Background(), src.export(t), st.dest("race.bin"), exportkit.WithPartSize(5<<20))
	require.ErrorIs(t, err, s3dest.ErrExists)
	assert.Equal(t, old, st.object("race.bin"))
	assert.Empty(t, st.openUploads())
	st.afterPart.Store(nil)

	res, err := src.c.DownloadTo(context.Background(), src.export(t), st.dest("there.bin", s3dest.WithForce()), exportkit.WithPartSize(5<<20))
	require.NoError(t, err)
	r, n := src.reader(t)
	assert.True(t, st.sameObject("there.bin", r, n))
	assert.Equal(t, int64(midSize), res.Bytes)
}

// TestDeliverExpiredURL: a signed source URL that expires mid-copy is
// read again from the vendor once, and the copy goes on.
func TestDeliverExpiredURL(t *testing.T) {
	st := newStore(t)
	st.countParts()
	src := newSource(t, midSize)
	e := src.export(t)
	src.srv.ResetRequests()
	st.onPart(2, src.srv.ExpireURLs)
	res, err := src.c.DownloadTo(context.Background(), e, st.dest("k.bin"), exportkit.WithPartSize(5<<20), exportkit.WithConnections(3))
	require.NoError(t, err)
	r, n := src.reader(t)
	assert.True(t, st.sameObject("k.bin", r, n))
	status := 0
	for _, rq := range src.srv.Requests() {
		if !rq.Storage {
			status++
		}
	}
	assert.Equal(t, 1, status, "one status read for a fresh URL, for every part")
	assert.True(t, res.Verified)
}

// TestBadCredentials: a wrong secret is a clear error that does not hold
// the secret.
func TestBadCredentials(t *testing.T) {
	st := newStore(t)
	src := newSource(t, 1000)
	const wrong = "wrong-secret-value-0123456789"
	d, err := s3dest.New(context.Background(), st.url("k.bin"),
		s3dest.WithCredentials(credentials.NewStaticCredentialsProvider(gateway.access, wrong, "")), s3dest.WithHTTPClient(st.hc))
	require.NoError(t, err)
	_, err = src.c.DownloadTo(context.Background(), src.export(t), d)
	require.Error(t, err)
	assert.True(t, errors.Is(err, exportkit.ErrForbidden) || errors.Is(err, exportkit.ErrUnauthorized), "%v", err)
	assert.NotContains(t, err.Error(), wrong)
	assert.Contains(t, err.Error(), "s3://"+st.bucket+"/k.bin")
	noSecret(t, err.Error())
}

// TestNoCredentials: with no credentials anywhere in the AWS default
// chain, New says what to set, as exportkit.ErrUnauthorized, before any
// request to the store. It needs no gateway.
func TestNoCredentials(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var sent atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { sent.Store(true) }))
	defer srv.Close()
	_, err := s3dest.New(context.Background(), "s3://b/k?endpoint="+url.QueryEscape(srv.URL)+"&disable_https=true&use_path_style=true&region=us-east-1")
	require.ErrorIs(t, err, exportkit.ErrUnauthorized)
	assert.Contains(t, err.Error(), "no AWS credentials for s3://b/k")
	assert.Contains(t, err.Error(), "AWS_ACCESS_KEY_ID")
	assert.False(t, sent.Load(), "nothing was sent to the store")
}

// TestDeliverWithoutRanges: a storage host that ignores Range is read
// once, in order, and still cut into verified parts.
func TestDeliverWithoutRanges(t *testing.T) {
	st := newStore(t)
	st.countParts()
	src := newSource(t, midSize)
	require.NoError(t, src.srv.Inject(exporttest.OnStorage().IgnoreRange()))
	res, err := src.c.DownloadTo(context.Background(), src.export(t), st.dest("k.bin"), exportkit.WithPartSize(5<<20))
	require.NoError(t, err)
	r, n := src.reader(t)
	assert.True(t, st.sameObject("k.bin", r, n))
	assert.True(t, res.Verified)
	assert.Equal(t, int64(7), st.parts.Load())
	assert.Empty(t, st.openUploads())
}
