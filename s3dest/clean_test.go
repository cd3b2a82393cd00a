package s3dest_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/s3dest"
)

// TestClean aborts the uploads exportkit left under a prefix, and only
// those: not another tool's, not one outside the prefix, not a young one.
func TestClean(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	// Uploads as a killed delivery leaves them (a full-object CRC-64/NVME),
	// and one that another tool started.
	create := func(key string, ours bool) string {
		in := &s3.CreateMultipartUploadInput{Bucket: &st.bucket, Key: aws.String(key)}
		if ours {
			in.ChecksumAlgorithm = "CRC64NVME"
			in.ChecksumType = "FULL_OBJECT"
		}
		out, err := st.s3.CreateMultipartUpload(ctx, in)
		require.NoError(t, err)
		return aws.ToString(out.UploadId)
	}
	mine := create("exports/a.bin", true)
	other := create("exports/b.bin", false)
	outside := create("elsewhere/c.bin", true)

	opts := []s3dest.Option{s3dest.WithCredentials(staticCreds()), s3dest.WithHTTPClient(st.hc)}
	found, err := s3dest.Clean(ctx, st.url("exports/"), time.Hour, opts...)
	require.NoError(t, err)
	assert.Empty(t, found, "a young upload is left alone")

	found, err = s3dest.Clean(ctx, st.url("exports/"), 0, opts...)
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, mine, found[0].UploadID)
	assert.True(t, found[0].Aborted)
	left := st.openUploads()
	assert.ElementsMatch(t, []string{"exports/b.bin " + other, "elsewhere/c.bin " + outside}, left)

	_, err = s3dest.Clean(ctx, "s3://"+st.bucket+"/x?bogus=1", 0, opts...)
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
}

// TestCleanStateFiles: with WithStateFiles, Clean aborts only the uploads
// a delivery's state file records, and removes that file; an upload that
// merely looks like exportkit's is returned Unrecorded and left alone. A
// state saved while its upload was being created records the upload of
// its key started since.
func TestCleanStateFiles(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	dir := t.TempDir()
	statePath := func(key string) string { return filepath.Join(dir, strings.ReplaceAll(key, "/", "_")+".state") }
	create := func(key string, crc bool) string {
		in := &s3.CreateMultipartUploadInput{Bucket: &st.bucket, Key: aws.String(key)}
		if crc {
			in.ChecksumAlgorithm = "CRC64NVME"
			in.ChecksumType = "FULL_OBJECT"
		}
		out, err := st.s3.CreateMultipartUpload(ctx, in)
		require.NoError(t, err)
		return aws.ToString(out.UploadId)
	}
	type upload struct {
		key, id string
		state   string    // the upload id its state file records; "" for none
		intent  time.Time // or, when set, since when its state says it was creating one
	}
	recordedID := create("exports/recorded.bin", true)
	staleID := create("exports/stale.bin", true)
	intentID := create("exports/intent.bin", true)
	ups := []upload{
		{key: "exports/recorded.bin", id: recordedID, state: recordedID},
		{key: "exports/unrecorded.bin", id: create("exports/unrecorded.bin", true)},
		{key: "exports/stale.bin", id: staleID, state: "an-earlier-upload"},
		{key: "exports/other-tool.bin", id: create("exports/other-tool.bin", false)},
		{key: "exports/intent.bin", id: intentID, intent: time.Now().Add(-time.Minute)},
		{key: "exports/older-than-intent.bin", id: create("exports/older-than-intent.bin", true), intent: time.Now().Add(time.Hour)},
	}
	for _, u := range ups {
		switch {
		case u.state != "":
			require.NoError(t, s3dest.WriteState(statePath(u.key), st.bucket, u.key, u.state))
		case !u.intent.IsZero():
			require.NoError(t, s3dest.WriteIntentState(statePath(u.key), st.bucket, u.key, u.intent))
		}
	}

	opts := []s3dest.Option{s3dest.WithCredentials(staticCreds()), s3dest.WithHTTPClient(st.hc), s3dest.WithStateFiles(statePath)}
	found, err := s3dest.Clean(ctx, st.url("exports/"), 0, opts...)
	require.NoError(t, err)
	got := map[string]s3dest.Upload{}
	for _, f := range found {
		got[f.Key] = f
	}
	assert.Len(t, got, 5, "the other tool's upload is not exportkit's at all")
	for _, k := range []string{"exports/recorded.bin", "exports/intent.bin"} {
		assert.True(t, got[k].Aborted, k)
		assert.False(t, got[k].Unrecorded, k)
	}
	for _, k := range []string{"exports/unrecorded.bin", "exports/stale.bin", "exports/older-than-intent.bin"} {
		assert.True(t, got[k].Unrecorded, k)
		assert.False(t, got[k].Aborted, k)
	}
	left := st.openUploads()
	assert.Len(t, left, 4)
	assert.NotContains(t, left, "exports/recorded.bin "+recordedID)
	assert.NotContains(t, left, "exports/intent.bin "+intentID)
	assert.NoFileExists(t, statePath("exports/recorded.bin"), "an aborted upload's state file goes with it")
	assert.NoFileExists(t, statePath("exports/intent.bin"))
	assert.FileExists(t, statePath("exports/stale.bin"), "a state file of another upload stays")

	_, err = s3dest.Clean(ctx, st.url("exports/"), 0, s3dest.WithStateFiles(nil))
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
}
