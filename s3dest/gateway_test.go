package s3dest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc64"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

// TestGatewayChecksSizeAndCRC: what s3dest relies on, seen on the peer
// itself: CompleteMultipartUpload refuses a wrong x-amz-mp-object-size and
// a full-object CRC-64/NVME that does not combine from the parts, and the
// object stays invisible.
func TestGatewayChecksSizeAndCRC(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	key := "check.bin"
	parts := [][]byte{bytes.Repeat([]byte{1}, 5<<20), []byte("tail")}
	crc := func(b []byte) string {
		var out [8]byte
		binary.BigEndian.PutUint64(out[:], crc64.Checksum(b, crc64.MakeTable(0x9a6c9329ac4bc9b5)))
		return base64.StdEncoding.EncodeToString(out[:])
	}
	whole := crc(append(append([]byte{}, parts[0]...), parts[1]...))
	for _, tc := range []struct {
		name string
		size int64
		crc  string
		ok   bool
	}{
		{"wrong size", 5<<20 + 3, whole, false},
		{"wrong CRC", 5<<20 + 4, crc([]byte("other")), false},
		{"right", 5<<20 + 4, whole, true},
	} {
		cu, err := st.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &st.bucket, Key: &key,
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme, ChecksumType: types.ChecksumTypeFullObject})
		require.NoError(t, err)
		var done []types.CompletedPart
		for i, p := range parts {
			n := int32(i + 1)
			up, err := st.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: &st.bucket, Key: &key, UploadId: cu.UploadId,
				PartNumber: &n, Body: bytes.NewReader(p), ChecksumCRC64NVME: aws.String(crc(p))})
			require.NoError(t, err)
			done = append(done, types.CompletedPart{PartNumber: &n, ETag: up.ETag, ChecksumCRC64NVME: aws.String(crc(p))})
		}
		_, err = st.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &st.bucket, Key: &key,
			UploadId: cu.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
			ChecksumType: types.ChecksumTypeFullObject, ChecksumCRC64NVME: aws.String(tc.crc), MpuObjectSize: aws.Int64(tc.size)})
		if tc.ok {
			require.NoError(t, err, tc.name)
			require.Len(t, st.object(key), 5<<20+4)
			continue
		}
		require.Error(t, err, tc.name)
		require.Nil(t, st.object(key), tc.name)
		_, err = st.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &st.bucket, Key: &key, UploadId: cu.UploadId})
		require.NoError(t, err)
	}
}
