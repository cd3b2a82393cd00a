package s3dest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// stateVersion is the version of the state format.
const stateVersion = 1

// maxState bounds the bytes of a state read back: a state is small (the
// upload id, a few numbers and the hash state).
const maxState = 1 << 20

// StateStore keeps the resume state of a delivery while it runs, under a
// key the destination was given ([WithStateStore]): a small JSON value
// holding the upload id, the part plan, the parts done and the hash state
// of the verified prefix; no URL, no credential. A state file
// ([WithStateFile]) is one StateStore; package exportjob keeps the state
// in its SQLite store, beside the run it belongs to.
//
// The state is a hint, never the truth: every state loaded is checked
// against the object store (ListParts, HeadObject) before it is used, so
// a store may keep a state after Delete (exportjob drops a run's state in
// the transaction that marks the run done) or lose one.
type StateStore interface {
	// Load returns the state saved under key, or nil and no error when
	// there is none.
	Load(ctx context.Context, key string) ([]byte, error)
	// Save replaces the state under key, atomically and durably: a
	// process killed during Save leaves the old state or the new.
	Save(ctx context.Context, key string, state []byte) error
	// Delete says the state under key is no longer needed.
	Delete(ctx context.Context, key string) error
}

// WithStateStore keeps the resume state of a delivery in s under key while
// it runs (see [WithStateFile] for what it allows): a delivery that is
// killed leaves it there, and the next delivery of the same export to the
// same object, given the same store and key, goes on from the parts
// already uploaded. It also lets a delivery killed after the object was
// published, but before its caller recorded that, find the object its own
// rather than refuse it as existing.
func WithStateStore(s StateStore, key string) Option {
	return func(o *options) {
		if s == nil || key == "" {
			o.bad("WithStateStore: a store and a key are required")
			return
		}
		o.state, o.stateKey = s, key
	}
}

// fileStore is the state file of WithStateFile: the key is the file's path.
type fileStore struct{}

func (fileStore) Load(_ context.Context, path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxState+1)) // a state is small: more is damage
}

// Save writes the state file atomically: a new file renamed over the old
// one, synced, so that a kill leaves the old state or the new.
func (fileStore) Save(_ context.Context, path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func (fileStore) Delete(_ context.Context, path string) error {
	err := os.Remove(path)
	os.Remove(path + ".tmp")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// state is what a multipart delivery keeps in its state store while it
// runs, so that a delivery killed midway can go on: the upload, the part
// plan, the parts done and the hash state of the prefix hashed. The store
// is the truth about the parts (ListParts); Done is what this process
// knew. No URL, no credential.
type state struct {
	Version  int    `json:"version"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	UploadID string `json:"uploadId"` // "" for a single PutObject, or while Creating
	// Creating is set, by this machine's clock, just before the request
	// that creates the upload, and cleared once its id is saved: a state
	// with it and no id says an upload may exist that nobody heard of.
	Creating *time.Time `json:"creating,omitempty"`
	Source   string     `json:"source"` // vendor:id
	ETag     string     `json:"etag"`   // the source file's
	Size     int64      `json:"size"`
	PartSize int64      `json:"partSize"`
	// HashedParts parts from the first are hashed in Hash.
	HashedParts int             `json:"hashedParts"`
	HashedBytes int64           `json:"hashedBytes"` // the length Hash covers: the end of part HashedParts
	Hash        json.RawMessage `json:"hash,omitempty"`
	// Publishing is set, with the whole file verified and hashed and CRC
	// its full-object CRC-64/NVME, just before the request that publishes
	// the object: an object found afterwards with this source, size and
	// CRC is this delivery's own.
	Publishing bool   `json:"publishing,omitempty"`
	CRC        string `json:"crc,omitempty"`
	Sum        string `json:"sum"` // SHA-256 of the state with Sum empty
}

func (st *state) checksum() string {
	c := *st
	c.Sum = ""
	b, _ := json.Marshal(&c)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// loadState reads the destination's state; nil when there is none, it
// cannot be read or it is damaged (a state is a hint: without it the
// delivery starts afresh).
func (d *Destination) loadState(ctx context.Context) *state {
	if d.cfg.state == nil {
		return nil
	}
	b, err := d.cfg.state.Load(ctx, d.cfg.stateKey)
	if err != nil {
		return nil
	}
	return decodeState(b)
}

// decodeState decodes a saved state; nil when it is empty or damaged.
func decodeState(b []byte) *state {
	if len(b) == 0 || len(b) > maxState {
		return nil
	}
	var st state
	if json.Unmarshal(b, &st) != nil || st.Version != stateVersion || st.Sum != st.checksum() ||
		(st.UploadID == "" && !st.Publishing && st.Creating == nil) ||
		((st.UploadID != "" || st.Creating != nil) && (st.Size <= 0 || st.PartSize <= 0)) ||
		st.Size < 0 || st.HashedParts < 0 {
		return nil
	}
	return &st
}

// saveState saves st in the destination's state store.
func (d *Destination) saveState(ctx context.Context, st *state) error {
	if d.cfg.state == nil {
		return nil
	}
	st.Version = stateVersion
	st.Sum = st.checksum()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := d.cfg.state.Save(ctx, d.cfg.stateKey, b); err != nil {
		return fmt.Errorf("exportkit: s3: save state: %w", err)
	}
	return nil
}

// removeState deletes the destination's state, best effort: a state left
// behind is checked against the store before any use.
func (d *Destination) removeState(ctx context.Context) {
	if d.cfg.state != nil {
		_ = d.cfg.state.Delete(context.WithoutCancel(ctx), d.cfg.stateKey)
	}
}
