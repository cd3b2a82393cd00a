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
	// Unrecorded: it looks like exportkit's (a full-object CRC-64/NVME),
	// but with WithStateFiles no state file records it, so Clean left it
	// alone: another tool's, or a delivery whose state file is gone (the
	// bucket's lifecycle rule aborts it in the end).
	Unrecorded bool
}

// WithStateFiles makes Clean reliable: it aborts an upload only when the
// state file that a delivery to its key keeps, path(key) (what that
// delivery was given as [WithStateFile]), records that very upload, and
// then removes the state file. The store cannot tell exportkit's uploads
// from others': ListMultipartUploads shows no metadata, only the checksum
// that exportkit asks for, which other tools may ask for too. For Clean
// only.
func WithStateFiles(path func(key string) string) Option {
	return func(o *options) {
		if path == nil {
			o.bad("WithStateFiles: nil function")
			return
		}
		o.statePath = path
	}
}

// Clean aborts the multipart uploads exportkit left under the prefix that
// rawURL names (s3://BUCKET/PREFIX, with the query parameters of [New])
// and that were started more than olderThan ago: the uploads of
// deliveries that were killed. It returns the uploads it found and what
// became of each.
//
// exportkit's uploads show a full-object CRC-64/NVME checksum, which
// exportkit always asks for; ListMultipartUploads shows nothing else of
// them (not the object metadata x-amz-meta-exportkit-source, which names
// the export). With [WithStateFiles], the way to be sure, an upload is
// aborted only when the state file of a delivery to its key records it;
// the others are returned Unrecorded, untouched. Without it, every upload
// with that checksum under the prefix is taken for exportkit's, another
// tool's too: give a prefix that only exportkit writes to. A delivery that
// is running has an upload younger than its run; olderThan must leave it
// alone (24h is a safe choice).
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
	err = eachUpload(ctx, c, t.Bucket, t.Key, func(mu types.MultipartUpload) {
		if !ours(mu) || mu.Initiated == nil || mu.Initiated.After(cutoff) || !strings.HasPrefix(aws.ToString(mu.Key), t.Key) {
			return
		}
		up := Upload{Key: aws.ToString(mu.Key), UploadID: aws.ToString(mu.UploadId), Initiated: *mu.Initiated}
		statePath := ""
		if o.statePath != nil {
			statePath = o.statePath(up.Key)
			if !recorded(statePath, t.Bucket, up.Key, up.UploadID, up.Initiated) {
				up.Unrecorded = true
				found = append(found, up)
				return
			}
		}
		_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &t.Bucket, Key: mu.Key, UploadId: mu.UploadId})
		if err != nil {
			up.Err = d.storeError("abort "+up.Key, err)
		} else {
			up.Aborted = true
			if statePath != "" && recorded(statePath, t.Bucket, up.Key, up.UploadID, up.Initiated) {
				fileStore{}.Delete(ctx, statePath) // it can no longer be resumed
			}
		}
		found = append(found, up)
	})
	if err != nil {
		return found, d.storeError("list multipart uploads", err)
	}
	return found, nil
}

// recorded reports whether the state file at path records the upload id
// of bucket/key, or says that a delivery to it was creating an upload,
// never heard of, when one initiated at initiated was started.
func recorded(path, bucket, key, id string, initiated time.Time) bool {
	b, err := fileStore{}.Load(context.Background(), path)
	if err != nil {
		return false
	}
	st := decodeState(b)
	if st == nil || st.Bucket != bucket || st.Key != key {
		return false
	}
	return st.UploadID == id || st.UploadID == "" && st.Creating != nil && !initiated.Before(st.Creating.Add(-createSkew))
}

// ours reports whether an upload looks like one exportkit started.
func ours(mu types.MultipartUpload) bool {
	return mu.ChecksumAlgorithm == types.ChecksumAlgorithmCrc64nvme &&
		(mu.ChecksumType == "" || mu.ChecksumType == types.ChecksumTypeFullObject)
}
