package s3dest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/crc64nvme"

	"github.com/exportkit/exportkit"
)

// Published reports whether the destination's object exists and was
// stored by exportkit (it carries the metadata x-amz-meta-exportkit-source
// that every delivery sets), and then its size and SHA-1 (hex), read back
// from the store and checked against the store's full-object CRC-64/NVME
// where it reports one. ok is false when there is no object, or one that
// exportkit did not store (Deliver refuses to overwrite it). It is how
// exportkit sync, its store lost and made again, finds a run's object
// already delivered (exportjob.Published) rather than create the export
// again.
func (d *Destination) Published(ctx context.Context) (size int64, sha1Hex string, ok bool, err error) {
	head, err := d.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.target.Bucket, Key: &d.target.Key,
		ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		err = d.storeError("head", err)
		if errors.Is(err, exportkit.ErrNotFound) {
			return 0, "", false, nil
		}
		return 0, "", false, err
	}
	if head.Metadata[metaKey] == "" {
		return 0, "", false, nil
	}
	obj, err := d.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &d.target.Bucket, Key: &d.target.Key, IfMatch: head.ETag})
	if err != nil {
		return 0, "", false, d.storeError("read back", err)
	}
	defer obj.Body.Close()
	h, c := sha1.New(), crc64nvme.New()
	n, err := io.Copy(io.MultiWriter(h, c), obj.Body)
	if err != nil {
		return 0, "", false, fmt.Errorf("exportkit: s3: read back %s: %w", d.target, err)
	}
	if want := aws.ToInt64(head.ContentLength); n != want {
		return 0, "", false, fmt.Errorf("exportkit: s3: read back %s: %d bytes of %d", d.target, n, want)
	}
	if want := aws.ToString(head.ChecksumCRC64NVME); want != "" && want != encodeCRC(c.Sum64()) {
		return 0, "", false, fmt.Errorf("exportkit: s3: read back %s: CRC-64/NVME %s, the store has %s", d.target, encodeCRC(c.Sum64()), want)
	}
	return n, hex.EncodeToString(h.Sum(nil)), true, nil
}
