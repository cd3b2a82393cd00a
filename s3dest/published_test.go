package s3dest_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
)

// TestPublished: an object a delivery stored is reported with its size
// and SHA-1, read back; one another tool stored, or none, is not.
func TestPublished(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	for _, size := range []int64{1, 12 << 20} { // one PutObject, a multipart upload
		src := newSource(t, size)
		key := "ours.bin"
		if size > 1 {
			key = "ours-multipart.bin"
		}
		_, err := src.c.DownloadTo(ctx, src.export(t), st.dest(key), exportkit.WithPartSize(5<<20))
		require.NoError(t, err)
		r, n := src.reader(t)
		h := sha1.New()
		_, err = io.Copy(h, r)
		require.NoError(t, err)

		gotSize, sum, ok, err := st.dest(key).Published(ctx)
		require.NoError(t, err)
		assert.True(t, ok, key)
		assert.Equal(t, n, gotSize, key)
		assert.Equal(t, hex.EncodeToString(h.Sum(nil)), sum, key)
	}

	_, err := st.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &st.bucket, Key: aws.String("theirs.bin"), Body: strings.NewReader("another tool's")})
	require.NoError(t, err)
	for _, key := range []string{"theirs.bin", "absent.bin"} {
		_, _, ok, err := st.dest(key).Published(ctx)
		require.NoError(t, err, key)
		assert.False(t, ok, key)
	}
}
