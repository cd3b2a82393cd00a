package s3dest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/errkind"
)

// Upload is a multipart upload that Clean found.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
	Aborted   bool  // Clean aborted it
	Err       error // why it could not be aborted
}

// Clean aborts the multipart uploads exportkit left under the prefix that
// rawURL names (s3://BUCKET/PREFIX, with the query parameters of [New])
// and that were started more than olderThan ago: the uploads of
// deliveries that were killed. It returns the uploads it found and what
// became of each.
//
// exportkit's uploads are recognised by what ListMultipartUploads shows of
// them: a full-object CRC-64/NVME checksum, which exportkit always asks
// for (the object metadata x-amz-meta-exportkit-source, which names the
// export, is not listed). An upload another tool started the same way
// under the same prefix would be aborted too: give a prefix that only
// exportkit writes to. A delivery that is running has an upload younger
// than its run; olderThan must leave it alone (24h is a safe choice).
func Clean(ctx context.Context, rawURL string, olderThan time.Duration, opts ...Option) ([]Upload, error) {
	t, err := Parse(rawURL, true)
	if err != nil {
		return nil, err
	}
	if olderThan < 0 {
		return nil, &errkind.Error{Msg: fmt.Sprintf("exportkit: s3: clean: --older-than %s is negative", olderThan), Kinds: []error{exportkit.ErrInvalidInput}}
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	c, err := newClient(ctx, t, o)
	if err != nil {
		return nil, err
	}
	d := &Destination{s3: c, target: t, cfg: o}
	cutoff := time.Now().Add(-olderThan)
	var found []Upload
	in := &s3.ListMultipartUploadsInput{Bucket: &t.Bucket}
	if t.Key != "" {
		in.Prefix = aws.String(t.Key)
	}
	for {
		out, err := c.ListMultipartUploads(ctx, in)
		if err != nil {
			return found, d.storeError("list multipart uploads", err)
		}
		for _, mu := range out.Uploads {
			if !ours(mu) || mu.Initiated == nil || mu.Initiated.After(cutoff) || !strings.HasPrefix(aws.ToString(mu.Key), t.Key) {
				continue
			}
			up := Upload{Key: aws.ToString(mu.Key), UploadID: aws.ToString(mu.UploadId), Initiated: *mu.Initiated}
			_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &t.Bucket, Key: mu.Key, UploadId: mu.UploadId})
			if err != nil {
				up.Err = d.storeError("abort "+up.Key, err)
			} else {
				up.Aborted = true
			}
			found = append(found, up)
		}
		if !aws.ToBool(out.IsTruncated) {
			return found, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// ours reports whether an upload looks like one exportkit started.
func ours(mu types.MultipartUpload) bool {
	return mu.ChecksumAlgorithm == types.ChecksumAlgorithmCrc64nvme &&
		(mu.ChecksumType == "" || mu.ChecksumType == types.ChecksumTypeFullObject)
}
