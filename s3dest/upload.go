package s3dest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/errkind"
)

// checkpointEvery is the shortest time between two state files written
// while parts go up (a variable for the tests).
var checkpointEvery = time.Second

// onPool, when set by a test, learns the buffers of each upload: n of
// size bytes.
var onPool func(n int, size int64)

// unsignedPayload: the parts carry their own CRC-64/NVME, which the store
// checks, so SigV4 need not hash every body with SHA-256 too.
var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// Deliver stores the file t reads as the destination's object, verified,
// and returns what it stored. It is what exportkit.Client.DownloadTo
// calls.
func (d *Destination) Deliver(ctx context.Context, t *exportkit.Transfer) (*exportkit.Delivery, error) {
	size := t.Size()
	if size < 0 {
		return nil, fmt.Errorf("exportkit: s3: put %s: the storage host does not say the file's size", d.target)
	}
	parts := t.Plan(MinPartSize, MaxParts)
	if !d.cfg.force {
		if err := d.checkAbsent(ctx); err != nil {
			if errors.Is(err, ErrExists) {
				if dl := d.publishedByState(ctx, t, parts); dl != nil {
					return dl, nil
				}
			}
			return nil, err
		}
	}
	if len(parts) <= 1 {
		return d.put(ctx, t, size)
	}
	return d.multipart(ctx, t, parts)
}

// CheckAbsent returns ErrExists when the object exists and WithForce was
// not given, so that a command can refuse before it waits for an export.
// The object is checked again, atomically, when it is published.
func (d *Destination) CheckAbsent(ctx context.Context) error {
	if d.cfg.force {
		return nil
	}
	return d.checkAbsent(ctx)
}

func (d *Destination) checkAbsent(ctx context.Context) error {
	_, err := d.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.target.Bucket, Key: &d.target.Key})
	if err == nil {
		return d.existsError()
	}
	err = d.storeError("head", err)
	if errors.Is(err, exportkit.ErrNotFound) {
		return nil
	}
	return err
}

func (d *Destination) existsError() error {
	return &errkind.Error{Msg: fmt.Sprintf("exportkit: s3: %s exists (use --force, or WithForce, to overwrite it)", d.target),
		Kinds: []error{ErrExists}}
}

// ifNoneMatch is the condition that keeps an existing object: "*" unless
// forced.
func (d *Destination) ifNoneMatch() *string {
	if d.cfg.force {
		return nil
	}
	return aws.String("*")
}

// publishError maps a refused conditional publish to ErrExists.
func (d *Destination) publishError(op string, err error) error {
	err = d.storeError(op, err)
	if errors.Is(err, ErrExists) {
		return d.existsError()
	}
	return err
}

// put stores a file smaller than one part with one PutObject, after it is
// read whole and verified.
func (d *Destination) put(ctx context.Context, t *exportkit.Transfer, size int64) (*exportkit.Delivery, error) {
	buf := make([]byte, size)
	if err := t.ReadAt(ctx, buf, 0); err != nil {
		return nil, err
	}
	if t.Hashing() {
		t.Hash(buf)
	}
	if err := t.Verify(size); err != nil {
		return nil, err
	}
	crc := encodeCRC(crc64NVME(buf))
	if err := d.savePublishing(ctx, &state{Bucket: d.target.Bucket, Key: d.target.Key, Source: t.Key(), ETag: t.ETag(),
		Size: size, PartSize: size, HashedParts: 1}, t, crc); err != nil {
		return nil, err
	}
	in := &s3.PutObjectInput{
		Bucket: &d.target.Bucket, Key: &d.target.Key,
		Body: bytes.NewReader(buf), ContentLength: aws.Int64(size),
		ChecksumCRC64NVME: aws.String(crc),
		IfNoneMatch:       d.ifNoneMatch(),
		Metadata:          map[string]string{metaKey: t.Key()},
	}
	if ct := t.ContentType(); ct != "" {
		in.ContentType = aws.String(ct)
	}
	out, err := d.s3.PutObject(ctx, in, unsignedPayload)
	if err != nil {
		return nil, d.publishError("put", err)
	}
	if got := aws.ToString(out.ChecksumCRC64NVME); got != "" && got != crc {
		return nil, fmt.Errorf("exportkit: s3: put %s: the store reports CRC-64/NVME %s, the bytes sent have %s", d.target, got, crc)
	}
	d.removeState(ctx)
	return &exportkit.Delivery{Location: d.target.String(), Bytes: size, CRC64NVME: crc, Parts: 1}, nil
}

// upPart is one part of a multipart upload on its way.
type upPart struct {
	exportkit.Part
	upload, hash bool   // still to be uploaded, still to be hashed
	buf          []byte // its bytes, from the read until it is uploaded and hashed
	read         bool
	etag, crc    string
}

// upload is one multipart delivery.
type upload struct {
	d     *Destination
	t     *exportkit.Transfer
	st    *state
	parts []*upPart

	ctx    context.Context
	cancel context.CancelCauseFunc

	mu     sync.Mutex
	cond   *sync.Cond
	err    error
	next   int // the next part to claim
	bufs   chan []byte
	saveMu sync.Mutex
	saved  time.Time
	// hashMu is held across hashing a part and recording it, so that a
	// checkpoint sees a hash state and the parts it covers together.
	hashMu sync.Mutex
}

// multipart uploads the parts, resuming an earlier delivery's upload when
// its state file fits, then verifies and completes it; any failure aborts
// it.
func (d *Destination) multipart(ctx context.Context, t *exportkit.Transfer, plan []exportkit.Part) (*exportkit.Delivery, error) {
	u := &upload{d: d, t: t, parts: make([]*upPart, len(plan))}
	u.cond = sync.NewCond(&u.mu)
	for i, p := range plan {
		u.parts[i] = &upPart{Part: p, upload: true, hash: t.Hashing()}
	}
	reused, err := u.begin(ctx)
	if err != nil {
		return nil, err
	}
	t.Reused(reused)
	err = u.run(ctx)
	if err == nil {
		err = t.Verify(t.Size())
	}
	var crc string
	if err == nil {
		crc, err = u.fullCRC()
	}
	if err == nil {
		u.saveMu.Lock() // no checkpoint after this one
		st := *u.st
		err = d.savePublishing(ctx, &st, t, crc)
		u.saveMu.Unlock()
	}
	if err == nil {
		err = u.complete(ctx, crc)
	}
	if err != nil {
		u.abort(ctx)
		return nil, err
	}
	d.removeState(ctx)
	return &exportkit.Delivery{Location: d.target.String(), Bytes: t.Size(), CRC64NVME: crc, Parts: len(plan), Reused: reused}, nil
}

// run reads and uploads the parts on up to connections workers, and hashes
// them here, in order, as they are read. A part's buffer goes back to the
// pool once it is uploaded and hashed: there are as many buffers as
// workers, and no part is held outside them.
func (u *upload) run(ctx context.Context) error {
	u.ctx, u.cancel = context.WithCancelCause(ctx)
	defer u.cancel(nil)
	work := 0
	for _, p := range u.parts {
		if p.upload || p.hash {
			work++
		}
	}
	if work == 0 {
		return nil
	}
	partSize := u.parts[0].Size()
	n := u.t.Connections()
	if m := u.d.cfg.memory; m > 0 {
		n = min(n, int(max(m/partSize, 1)))
	}
	n = max(min(n, work), 1)
	// The parts' memory, allocated once: n buffers that parts take
	// turns in, freed once every worker is done with them.
	pool, err := newPartPool(n, partSize)
	if err != nil {
		return err
	}
	if onPool != nil {
		onPool(n, partSize)
	}
	defer pool.release()
	u.bufs = make(chan []byte, n)
	for _, b := range pool.bufs {
		u.bufs <- b[:0]
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.worker()
		}()
	}
	stop := context.AfterFunc(u.ctx, func() {
		u.mu.Lock()
		u.cond.Broadcast()
		u.mu.Unlock()
	})
	herr := u.hashAll()
	if herr != nil {
		u.fail(herr)
	}
	wg.Wait()
	stop()
	u.mu.Lock()
	err = u.err
	u.mu.Unlock()
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	return err
}

// fail records the first error and stops every worker.
func (u *upload) fail(err error) {
	u.mu.Lock()
	if u.err == nil {
		u.err = err
	}
	u.cond.Broadcast()
	u.mu.Unlock()
	u.cancel(err)
}

// claim takes a free buffer, then the next part that needs reading.
func (u *upload) claim() *upPart {
	var buf []byte
	select {
	case buf = <-u.bufs:
	case <-u.ctx.Done():
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for u.next < len(u.parts) && u.err == nil {
		p := u.parts[u.next]
		u.next++
		if p.upload || p.hash {
			if int64(cap(buf)) < p.Size() {
				buf = make([]byte, p.Size())
			}
			p.buf = buf[:p.Size()]
			return p
		}
	}
	u.bufs <- buf
	return nil
}

func (u *upload) worker() {
	for {
		p := u.claim()
		if p == nil {
			return
		}
		if err := u.t.ReadAt(u.ctx, p.buf, p.Start); err != nil {
			u.fail(err)
			return
		}
		u.mu.Lock()
		p.read = true
		up := p.upload
		u.cond.Broadcast()
		u.mu.Unlock()
		if up {
			etag, crc, err := u.uploadPart(p)
			if err != nil {
				u.fail(err)
				return
			}
			u.mu.Lock()
			p.etag, p.crc, p.upload = etag, crc, false
			u.releaseLocked(p)
			u.mu.Unlock()
			u.checkpoint(false)
			continue
		}
		u.mu.Lock()
		u.releaseLocked(p)
		u.mu.Unlock()
	}
}

// releaseLocked frees p's buffer once it is uploaded and hashed.
func (u *upload) releaseLocked(p *upPart) {
	if p.buf != nil && !p.upload && !p.hash {
		u.bufs <- p.buf[:0]
		p.buf = nil
	}
}

func (u *upload) uploadPart(p *upPart) (etag, crc string, err error) {
	d := u.d
	crc = encodeCRC(crc64NVME(p.buf))
	n := int32(p.Number)
	// The body is seekable and its checksum given: the SDK sends the
	// buffer as it is, copying nothing. Closing it before the buffer goes
	// back to the pool keeps a late read by the transport off the next
	// part's bytes.
	body := newPartBody(p.buf)
	defer body.close()
	out, err := d.s3.UploadPart(u.ctx, &s3.UploadPartInput{
		Bucket: &d.target.Bucket, Key: &d.target.Key, UploadId: &u.st.UploadID, PartNumber: &n,
		Body: body, ContentLength: aws.Int64(p.Size()),
		ChecksumCRC64NVME: aws.String(crc),
	}, unsignedPayload)
	if err != nil {
		return "", "", d.storeError(fmt.Sprintf("upload part %d", p.Number), err)
	}
	if got := aws.ToString(out.ChecksumCRC64NVME); got != "" && got != crc {
		return "", "", fmt.Errorf("exportkit: s3: upload part %d of %s: the store reports CRC-64/NVME %s, the bytes sent have %s",
			p.Number, d.target, got, crc)
	}
	return aws.ToString(out.ETag), crc, nil
}

// hashAll hashes every part still to be hashed, in order, as it is read.
func (u *upload) hashAll() error {
	for _, p := range u.parts {
		if !p.hash {
			continue
		}
		u.mu.Lock()
		for !p.read && u.err == nil && u.ctx.Err() == nil {
			u.cond.Wait()
		}
		if u.err != nil || u.ctx.Err() != nil {
			u.mu.Unlock()
			return nil
		}
		buf := p.buf
		u.mu.Unlock()
		u.hashMu.Lock()
		u.t.Hash(buf)
		u.mu.Lock()
		p.hash = false
		u.releaseLocked(p)
		u.st.HashedParts = p.Number
		u.mu.Unlock()
		u.hashMu.Unlock()
		u.checkpoint(false)
	}
	return nil
}

// checkpoint saves the state file at most every checkpointEvery (always
// with force): the hash state at the prefix hashed. The store keeps the
// parts; a state older than the parts only costs a re-read for the hash.
func (u *upload) checkpoint(force bool) {
	if u.d.cfg.state == nil || u.t.ETag() == "" || !u.t.Hashing() {
		return
	}
	u.saveMu.Lock()
	defer u.saveMu.Unlock()
	if !force && time.Since(u.saved) < checkpointEvery {
		return
	}
	u.hashMu.Lock()
	u.mu.Lock()
	st := *u.st
	u.mu.Unlock()
	h, err := u.t.HashState()
	st.HashedBytes = u.t.Hashed()
	u.hashMu.Unlock()
	if err != nil {
		return
	}
	st.Hash = h
	if u.d.saveState(u.ctx, &st) == nil {
		u.saved = time.Now()
	}
}

// fullCRC is the whole object's CRC-64/NVME, combined from the parts'.
func (u *upload) fullCRC() (string, error) {
	var full uint64
	for _, p := range u.parts {
		c, ok := decodeCRC(p.crc)
		if !ok || p.etag == "" {
			return "", fmt.Errorf("exportkit: s3: complete %s: part %d has no CRC-64/NVME", u.d.target, p.Number)
		}
		full = combineCRC(full, c, p.Size())
	}
	return encodeCRC(full), nil
}

// complete publishes the object: the parts in order with their CRCs, the
// whole object's CRC-64/NVME crc, its size, and If-None-Match unless
// forced.
func (u *upload) complete(ctx context.Context, crc string) error {
	d := u.d
	cp := make([]types.CompletedPart, len(u.parts))
	for i, p := range u.parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.etag), ChecksumCRC64NVME: aws.String(p.crc)}
	}
	out, err := d.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &d.target.Bucket, Key: &d.target.Key, UploadId: &u.st.UploadID,
		MultipartUpload:   &types.CompletedMultipartUpload{Parts: cp},
		ChecksumType:      types.ChecksumTypeFullObject,
		ChecksumCRC64NVME: aws.String(crc),
		MpuObjectSize:     aws.Int64(u.t.Size()),
		IfNoneMatch:       d.ifNoneMatch(),
	})
	if err != nil {
		return d.publishError("complete", err)
	}
	if got := aws.ToString(out.ChecksumCRC64NVME); got != "" && got != crc {
		return fmt.Errorf("exportkit: s3: complete %s: the store reports CRC-64/NVME %s, the parts sent have %s", d.target, got, crc)
	}
	return nil
}

// savePublishing saves st, the state of a delivery whose file is whole
// and verified, as about to be published with the CRC-64/NVME crc: the
// hash state of the whole file, so that a delivery killed once the
// object is published can still say what it published (see publishedByState).
func (d *Destination) savePublishing(ctx context.Context, st *state, t *exportkit.Transfer, crc string) error {
	if d.cfg.state == nil {
		return nil
	}
	st.Publishing, st.CRC, st.Hash, st.HashedBytes = true, crc, nil, 0
	if t.Hashing() {
		h, err := t.HashState()
		if err != nil {
			return fmt.Errorf("exportkit: s3: save state: %w", err)
		}
		st.Hash, st.HashedBytes = h, t.Hashed()
	}
	return d.saveState(ctx, st)
}

// publishedByState returns the delivery of an object that exists because an
// earlier delivery of this same file published it and was killed before
// it could say so: its state says it was publishing this export's file
// (same source, ETag and size) to this object with a known CRC-64/NVME,
// and the object carries that source, size and (where the store reports
// one) CRC. The file's hashes are taken up from the state and verified.
// nil when the object is not this delivery's own: it is then refused as
// existing, never overwritten.
func (d *Destination) publishedByState(ctx context.Context, t *exportkit.Transfer, plan []exportkit.Part) *exportkit.Delivery {
	st := d.loadState(ctx)
	if st == nil || !st.Publishing || st.CRC == "" || st.Bucket != d.target.Bucket || st.Key != d.target.Key ||
		st.Source != t.Key() || st.ETag != t.ETag() || st.Size != t.Size() {
		return nil
	}
	out, err := d.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.target.Bucket, Key: &d.target.Key,
		ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || out.Metadata[metaKey] != t.Key() || aws.ToInt64(out.ContentLength) != st.Size {
		return nil
	}
	if got := aws.ToString(out.ChecksumCRC64NVME); got != "" && got != st.CRC {
		return nil
	}
	if t.Hashing() {
		if len(st.Hash) == 0 || t.RestoreHash(st.Hash) != nil || t.Hashed() != st.Size {
			return nil
		}
	}
	if t.Verify(st.Size) != nil {
		return nil
	}
	d.removeState(ctx)
	t.Reused(st.Size)
	return &exportkit.Delivery{Location: d.target.String(), Bytes: st.Size, CRC64NVME: st.CRC, Parts: max(len(plan), 1), Reused: st.Size}
}

// abort aborts the upload on a context of its own, bounded in time, once
// the parts in flight have settled (run has returned), and removes the
// state file: nothing of a failed delivery is left.
func (u *upload) abort(ctx context.Context) {
	if u.st == nil || u.st.UploadID == "" {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	d := u.d
	_, err := d.s3.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(u.st.Bucket), Key: aws.String(u.st.Key), UploadId: &u.st.UploadID})
	if err == nil || errors.Is(d.storeError("abort", err), exportkit.ErrNotFound) {
		d.removeState(ctx)
	}
}
