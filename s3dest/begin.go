package s3dest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/exportkit/exportkit"
)

// Starting a multipart upload, or taking up an earlier one, so that no
// upload is created twice for one delivery on a guess. The intent to
// create is saved before CreateMultipartUpload is sent; when its answer
// never comes (the process killed, the connection cut after the store
// acted), the store is asked which upload of the object was started since
// the intent, and that one is taken up rather than another created.

// createAttempts bounds the CreateMultipartUpload requests of one delivery
// whose answers are lost (each followed by a look for the upload it may
// have started).
const createAttempts = 3

// createSkew is how much earlier than the intent, by this machine's
// clock, the store may date the upload it started (clocks differ).
const createSkew = 15 * time.Minute

// createBackoff is the pause after the nth lost answer to a create.
func createBackoff(n int) time.Duration { return time.Duration(n) * 250 * time.Millisecond }

// begin takes up the upload of a saved state that describes this export,
// this object and this plan, with the parts the store lists; otherwise it
// starts a new upload. A state saved while an upload was being created
// (its id never heard of) is completed from the store first. It returns
// the bytes already uploaded.
func (u *upload) begin(ctx context.Context) (int64, error) {
	d, t := u.d, u.t
	partSize := u.parts[0].Size()
	if st := d.loadState(ctx); st != nil {
		adopted := false
		sameObject := st.Bucket == d.target.Bucket && st.Key == d.target.Key
		if st.UploadID == "" && st.Creating != nil && sameObject {
			id, err := d.created(ctx, *st.Creating)
			if err != nil {
				return 0, err
			}
			st.UploadID, st.Creating, adopted = id, nil, id != ""
		}
		fits := !d.cfg.noResume && st.UploadID != "" && sameObject && st.Source == t.Key() &&
			st.ETag != "" && st.ETag == t.ETag() && st.Size == t.Size() && st.PartSize == partSize &&
			st.HashedParts <= len(u.parts)
		if fits {
			reused, err := u.resume(ctx, st)
			if err == nil {
				u.st = st
				if adopted {
					if err := d.saveState(ctx, st); err != nil {
						u.abort(ctx)
						return 0, err
					}
				}
				return reused, nil
			}
			if ctx.Err() != nil {
				return 0, err
			}
		}
		// Another file, another object or a gone upload: start afresh,
		// aborting what the earlier delivery left.
		u.st = st
		u.abort(ctx)
	}
	return 0, u.create(ctx, partSize)
}

// create starts a new upload. Its intent is saved first (when the file
// has an ETag, so that a state can describe it): a delivery killed before
// the answer leaves a state that says an upload may exist, which the next
// delivery looks for (begin). A lost answer is looked for here too, before
// the request is sent again: the SDK does not retry it blindly.
func (u *upload) create(ctx context.Context, partSize int64) error {
	d, t := u.d, u.t
	since := time.Now()
	u.st = &state{Bucket: d.target.Bucket, Key: d.target.Key, Source: t.Key(), ETag: t.ETag(), Size: t.Size(),
		PartSize: partSize, Creating: &since}
	durable := t.ETag() != ""
	if durable {
		if err := d.saveState(ctx, u.st); err != nil {
			return err
		}
	}
	in := &s3.CreateMultipartUploadInput{
		Bucket: &d.target.Bucket, Key: &d.target.Key,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme,
		ChecksumType:      types.ChecksumTypeFullObject,
		Metadata:          map[string]string{metaKey: t.Key()},
	}
	if ct := t.ContentType(); ct != "" {
		in.ContentType = aws.String(ct)
	}
	for n := 1; u.st.UploadID == ""; n++ {
		out, err := d.s3.CreateMultipartUpload(ctx, in, noRetry)
		if err == nil {
			u.st.UploadID = aws.ToString(out.UploadId)
			break
		}
		if answered(err) {
			d.removeState(ctx) // the store said no: it started nothing
			return d.storeError("create multipart upload", err)
		}
		if ctx.Err() != nil {
			u.abandon(ctx, since)
			return d.storeError("create multipart upload", err)
		}
		if n == createAttempts {
			return d.storeError("create multipart upload", err) // the intent stays: the next delivery looks
		}
		id, lerr := d.created(ctx, since)
		if lerr != nil {
			return lerr
		}
		if id != "" {
			u.st.UploadID = id
			break
		}
		select {
		case <-ctx.Done():
			return d.storeError("create multipart upload", context.Cause(ctx))
		case <-time.After(createBackoff(n)):
		}
	}
	u.st.Creating = nil
	if durable {
		if err := d.saveState(ctx, u.st); err != nil {
			u.abort(ctx)
			return err
		}
	}
	return nil
}

// abandon aborts, on a context of its own, the upload that a create
// cancelled before its answer may have started, when the store lists it:
// a cancelled delivery leaves no upload open. The intent stays when none
// is found (the store may act on the request later): the next delivery
// to the object looks again.
func (u *upload) abandon(ctx context.Context, since time.Time) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if id, err := u.d.created(actx, since); err == nil && id != "" {
		u.st.UploadID = id
		u.abort(actx)
	}
}

// noRetry: a CreateMultipartUpload is sent once by the SDK; create looks
// for the upload of a lost answer before sending another.
func noRetry(o *s3.Options) { o.Retryer = aws.NopRetryer{} }

// answered reports whether the store answered a request with a refusal
// (4xx): it did not act. No answer, or a server error, may hide a request
// the store carried out.
func answered(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() >= 400 && re.HTTPStatusCode() < 500
}

// created returns the id of the one upload of the destination's object
// that carries exportkit's checksum and was started since since (less
// createSkew): the upload a delivery created without hearing its id. ""
// when there is none, or more than one (which is not guessed between), or
// when the credentials may not list uploads.
func (d *Destination) created(ctx context.Context, since time.Time) (string, error) {
	var found []string
	err := eachUpload(ctx, d.s3, d.target.Bucket, d.target.Key, func(mu types.MultipartUpload) {
		if aws.ToString(mu.Key) == d.target.Key && ours(mu) && mu.Initiated != nil && !mu.Initiated.Before(since.Add(-createSkew)) {
			found = append(found, aws.ToString(mu.UploadId))
		}
	})
	if err != nil {
		err = d.storeError("list multipart uploads", err)
		if errors.Is(err, exportkit.ErrForbidden) {
			return "", nil
		}
		return "", err
	}
	if len(found) != 1 {
		return "", nil
	}
	return found[0], nil
}

// eachUpload calls f with every multipart upload open in bucket under
// prefix ("" for all), page after page.
func eachUpload(ctx context.Context, c *s3.Client, bucket, prefix string, f func(types.MultipartUpload)) error {
	in := &s3.ListMultipartUploadsInput{Bucket: &bucket}
	if prefix != "" {
		in.Prefix = &prefix
	}
	pg := s3.NewListMultipartUploadsPaginator(c, in)
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, mu := range out.Uploads {
			f(mu)
		}
	}
	return nil
}

// resume marks the parts the store lists as uploaded, and the parts
// before the saved hash state as hashed.
func (u *upload) resume(ctx context.Context, st *state) (int64, error) {
	t := u.t
	listed, err := u.d.listParts(ctx, st.UploadID)
	if err != nil {
		return 0, err
	}
	if t.Hashing() && st.HashedParts > 0 && len(st.Hash) > 0 && st.HashedBytes == u.parts[st.HashedParts-1].End {
		if err := t.RestoreHash(st.Hash); err != nil || t.Hashed() != st.HashedBytes {
			return 0, fmt.Errorf("exportkit: s3: the saved hash state does not fit: %v", err)
		}
		for _, p := range u.parts[:st.HashedParts] {
			p.hash = false
		}
	}
	var reused int64
	for _, lp := range listed {
		n := int(aws.ToInt32(lp.PartNumber))
		if n < 1 || n > len(u.parts) {
			continue
		}
		p := u.parts[n-1]
		if aws.ToInt64(lp.Size) != p.Size() || aws.ToString(lp.ChecksumCRC64NVME) == "" || aws.ToString(lp.ETag) == "" {
			continue // uploaded again, over it
		}
		p.upload = false
		p.etag, p.crc = aws.ToString(lp.ETag), aws.ToString(lp.ChecksumCRC64NVME)
		reused += p.Size()
	}
	return reused, nil
}

// listParts lists every part of an upload.
func (d *Destination) listParts(ctx context.Context, uploadID string) ([]types.Part, error) {
	var all []types.Part
	pg := s3.NewListPartsPaginator(d.s3, &s3.ListPartsInput{Bucket: &d.target.Bucket, Key: &d.target.Key, UploadId: &uploadID})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return nil, d.storeError("list parts", err)
		}
		all = append(all, out.Parts...)
	}
	return all, nil
}
