package s3dest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// stateVersion is the version of the state file format.
const stateVersion = 1

// state is what a multipart delivery keeps in its state file while it
// runs, so that a delivery killed midway can go on: the upload, the part
// plan, the parts done and the hash state of the prefix hashed. The store
// is the truth about the parts (ListParts); Done is what this process
// knew. No URL, no credential.
type state struct {
	Version  int    `json:"version"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
	Source   string `json:"source"` // vendor:id
	ETag     string `json:"etag"`   // the source file's
	Size     int64  `json:"size"`
	PartSize int64  `json:"partSize"`
	// HashedParts parts from the first are hashed in Hash.
	HashedParts int             `json:"hashedParts"`
	HashedBytes int64           `json:"hashedBytes"` // the length Hash covers: the end of part HashedParts
	Hash        json.RawMessage `json:"hash,omitempty"`
	Sum         string          `json:"sum"` // SHA-256 of the state with Sum empty
}

func (st *state) checksum() string {
	c := *st
	c.Sum = ""
	b, _ := json.Marshal(&c)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// loadState reads a state file; nil when there is none or it is damaged.
func loadState(path string) *state {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 1<<20 {
		return nil
	}
	var st state
	if json.Unmarshal(b, &st) != nil || st.Version != stateVersion || st.Sum != st.checksum() ||
		st.UploadID == "" || st.Size <= 0 || st.PartSize <= 0 || st.HashedParts < 0 {
		return nil
	}
	return &st
}

// saveState writes the state file atomically: a new file renamed over the
// old one, synced, so that a kill leaves the old state or the new.
func saveState(path string, st *state) error {
	if path == "" {
		return nil
	}
	st.Version = stateVersion
	st.Sum = st.checksum()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("exportkit: s3: save state: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("exportkit: s3: save state: %w", err)
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
		return fmt.Errorf("exportkit: s3: save state: %w", err)
	}
	return nil
}

func removeState(path string) {
	if path == "" {
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return
	}
	os.Remove(path + ".tmp")
}
