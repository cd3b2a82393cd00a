package s3dest

import (
	"context"
	"time"
)

// SetCheckpointEvery sets the time between state files for a test and
// returns the previous value.
func SetCheckpointEvery(d time.Duration) time.Duration {
	old := checkpointEvery
	checkpointEvery = d
	return old
}

// OnPool calls f with the buffers each multipart upload allocates, until
// the test ends.
func OnPool(t interface{ Cleanup(func()) }, f func(n int, size int64)) {
	onPool = f
	t.Cleanup(func() { onPool = nil })
}

// WriteState writes the state file a delivery to bucket/key keeps while
// its upload id runs.
func WriteState(path, bucket, key, uploadID string) error {
	d := &Destination{cfg: options{state: fileStore{}, stateKey: path}}
	return d.saveState(context.Background(), &state{Bucket: bucket, Key: key, UploadID: uploadID, Source: "orbit:x", Size: 1, PartSize: MinPartSize})
}

// WriteIntentState writes the state file a delivery to bucket/key keeps
// while it creates its upload, since since, not yet knowing its id.
func WriteIntentState(path, bucket, key string, since time.Time) error {
	d := &Destination{cfg: options{state: fileStore{}, stateKey: path}}
	return d.saveState(context.Background(), &state{Bucket: bucket, Key: key, Creating: &since, Source: "orbit:x", Size: 1, PartSize: MinPartSize})
}
