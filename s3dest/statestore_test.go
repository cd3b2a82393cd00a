package s3dest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/s3dest"
)

// memStates is a StateStore in memory. With keep, Delete keeps the state,
// as package exportjob does until its run is marked done.
type memStates struct {
	mu    sync.Mutex
	m     map[string][]byte
	keep  bool
	saves int
}

func (s *memStates) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.m[key]), nil
}

func (s *memStates) Save(_ context.Context, key string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = bytes.Clone(b)
	s.saves++
	return nil
}

func (s *memStates) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.keep {
		delete(s.m, key)
	}
	return nil
}

func TestWithStateStoreBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    s3dest.StateStore
		key  string
	}{
		{"nil store", nil, "k"},
		{"empty key", &memStates{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s3dest.New(context.Background(), "s3://b/k", s3dest.WithStateStore(tc.s, tc.key))
			require.ErrorIs(t, err, exportkit.ErrInvalidInput)
		})
	}
}

// A delivery whose caller was killed after the object was published and
// before it recorded that: the state store still holds the state that
// says what was being published, so the next delivery of the same export
// to the same object finds the object its own (source, size, CRC-64/NVME)
// and returns its delivery, SHA-1 and all, without storing anything
// again. Another export's delivery to that object is refused as existing,
// and a store that deleted the state refuses it too.
func TestPublishedThenKilledIsNotStoredTwice(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
	}{
		{"put", 1 << 20},           // one PutObject
		{"multipart", 12<<20 + 77}, // three parts
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			st.countParts()
			src := newSource(t, tc.size)
			key := "sync/" + tc.name + ".bin"
			states := &memStates{keep: true}
			deliver := func() (*exportkit.DownloadResult, error) {
				return src.c.DownloadTo(context.Background(), src.export(t), st.dest(key, s3dest.WithStateStore(states, key)),
					exportkit.WithPartSize(5<<20), exportkit.WithSHA1())
			}
			first, err := deliver()
			require.NoError(t, err)
			require.NotEmpty(t, states.m[key], "the state is kept by this store")
			var saved struct {
				Publishing bool   `json:"publishing"`
				CRC        string `json:"crc"`
			}
			require.NoError(t, json.Unmarshal(states.m[key], &saved))
			require.True(t, saved.Publishing)
			require.Equal(t, first.CRC64NVME, saved.CRC)
			parts := st.parts.Load()

			again, err := deliver()
			require.NoError(t, err)
			assert.Equal(t, parts, st.parts.Load(), "no part stored again")
			assert.Equal(t, first.SHA1, again.SHA1)
			assert.Equal(t, first.Bytes, again.Bytes)
			assert.Equal(t, first.CRC64NVME, again.CRC64NVME)
			assert.Equal(t, tc.size, again.Reused)
			assert.True(t, again.Verified)
			r, n := src.reader(t)
			assert.True(t, st.sameObject(key, r, n), "byte-identical")

			// Another export to the same object: not its own.
			other, err := src.srv.AddExport(exportkit.Orbit)
			require.NoError(t, err)
			oe, err := src.c.Audiences.GetExport(context.Background(), exportkit.ExportRef{AudienceID: other.AudienceID, RunID: other.RunID, ExportID: other.ID})
			require.NoError(t, err)
			_, err = src.c.DownloadTo(context.Background(), oe, st.dest(key, s3dest.WithStateStore(states, key)), exportkit.WithSHA1())
			require.ErrorIs(t, err, s3dest.ErrExists)

			// Without the state: refused, never overwritten.
			_, err = src.c.DownloadTo(context.Background(), src.export(t), st.dest(key, s3dest.WithStateStore(&memStates{}, key)), exportkit.WithSHA1())
			require.True(t, errors.Is(err, s3dest.ErrExists), "%v", err)
			assert.Empty(t, st.openUploads())
		})
	}
}
