package s3dest_test

import (
	"context"
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
