package download

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll reads the file through r in parts of size, last first.
func readAll(t *testing.T, r *Ranger, total, size int64) ([]byte, error) {
	t.Helper()
	out := make([]byte, total)
	var offs []int64
	for off := int64(0); off < total; off += size {
		offs = append(offs, off)
	}
	// Part 0 first (it takes the first response), then the rest backwards.
	order := append([]int64{0}, reverse(offs[1:])...)
	for _, off := range order {
		if err := r.ReadRange(context.Background(), off, out[off:min(off+size, total)]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func reverse(s []int64) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestRanger(t *testing.T) {
	data := testData(5*MinPartSize + 123)
	total := int64(len(data))
	for _, tc := range []struct {
		name    string
		spoil   func(n int, r *http.Request) spoil
		noRange bool
		want    error // nil: the bytes come back whole
		locates int32
	}{
		{name: "clean"},
		{name: "cut inside a range", spoil: func(n int, _ *http.Request) spoil {
			if n == 2 {
				return spoil{cutAt: 1000}
			}
			return spoil{}
		}},
		{name: "expired URL", spoil: func(n int, _ *http.Request) spoil {
			if n == 2 {
				return spoil{status: http.StatusForbidden}
			}
			return spoil{}
		}, locates: 1},
		{name: "file replaced", spoil: func(n int, _ *http.Request) spoil {
			if n >= 2 {
				return spoil{etag: `"v2"`}
			}
			return spoil{}
		}, want: ErrFileChanged},
		{name: "another range", spoil: func(n int, _ *http.Request) spoil {
			if n == 2 {
				return spoil{shiftRange: 1}
			}
			return spoil{}
		}, want: errBadRange},
		{name: "no ranges", noRange: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFileServer(t, data)
			s.noRange = tc.noRange
			s.setSpoil(tc.spoil)
			var locates atomic.Int32
			cfg := testConfig(t, func(c *Config) { c.MaxResumes = 2 })
			r, err := OpenRanger(context.Background(), cfg, testSource(s, "k", &locates), MinPartSize)
			require.NoError(t, err)
			defer r.Close()
			info := r.Info()
			assert.Equal(t, total, info.Size)
			assert.Equal(t, !tc.noRange, info.Ranged)
			got, err := readAll(t, r, total, MinPartSize)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			assert.True(t, bytes.Equal(data, got))
			assert.Equal(t, tc.locates, locates.Load())
			for i, rq := range s.requests() {
				if i > 0 {
					assert.Equal(t, `"v1"`, rq.ifMatch, "request %d carries If-Match", i)
				}
			}
		})
	}
}

func TestRangerVerify(t *testing.T) {
	data := testData(3 * MinPartSize)
	s := newFileServer(t, data)
	src := testSource(s, "k", nil)
	src.Known.SHA1 = sha1Of(data)
	r, err := OpenRanger(context.Background(), testConfig(t), src, MinPartSize)
	require.NoError(t, err)
	defer r.Close()
	require.True(t, r.Hashing())
	assert.Equal(t, sha1Of(data), r.Info().SHA1)
	got, err := readAll(t, r, int64(len(data)), MinPartSize)
	require.NoError(t, err)
	r.Hash(got[:MinPartSize])
	st, err := r.HashState()
	require.NoError(t, err)
	r.Hash(got[MinPartSize:])
	require.NoError(t, r.Verify(int64(len(data))))
	res := r.Result(int64(len(data)), 3)
	assert.True(t, res.Verified)
	assert.Equal(t, sha1Of(data), res.SHA1)

	// A state saved after the first part takes up from there.
	r2, err := OpenRanger(context.Background(), testConfig(t), src, MinPartSize)
	require.NoError(t, err)
	defer r2.Close()
	require.NoError(t, r2.RestoreHash(st))
	assert.Equal(t, int64(MinPartSize), r2.Hashed())
	r2.Hash(data[MinPartSize:])
	require.NoError(t, r2.Verify(int64(len(data))))
	require.Error(t, r2.RestoreHash([]byte(`{"hashed": -1}`)))

	// Wrong bytes: a checksum mismatch; too few hashed: a size mismatch.
	r3, err := OpenRanger(context.Background(), testConfig(t), src, MinPartSize)
	require.NoError(t, err)
	defer r3.Close()
	r3.Hash(bytes.Repeat([]byte{1}, len(data)))
	require.ErrorIs(t, r3.Verify(int64(len(data))), ErrChecksumMismatch)
	r4, err := OpenRanger(context.Background(), testConfig(t), src, MinPartSize)
	require.NoError(t, err)
	defer r4.Close()
	r4.Hash(data[:10])
	require.ErrorIs(t, r4.Verify(int64(len(data))), ErrSizeMismatch)
	assert.Error(t, r4.ReadRange(context.Background(), int64(len(data)), make([]byte, 1)), "outside the file")
	assert.False(t, errors.Is(r4.ReadRange(context.Background(), 0, make([]byte, 1)), ErrClosed))
}
