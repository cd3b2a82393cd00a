package s3dest

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
)

// TestPartPool: n buffers of exactly the part size, disjoint (a buffer
// never grows into the next), writable, freed once.
func TestPartPool(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		size int64
	}{
		{"one", 1, 5 << 20},
		{"four", 4, 5 << 20},
		{"odd size", 3, 5<<20 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newPartPool(tc.n, tc.size)
			require.NoError(t, err)
			require.Len(t, p.bufs, tc.n)
			for i, b := range p.bufs {
				require.EqualValues(t, tc.size, len(b))
				require.EqualValues(t, tc.size, cap(b), "a full buffer cannot be appended into the next")
				b[0], b[len(b)-1] = byte(i+1), byte(i+1)
			}
			for i, b := range p.bufs {
				assert.Equal(t, byte(i+1), b[0])
				assert.Equal(t, byte(i+1), b[len(b)-1])
			}
			p.release()
			p.release() // a second release does nothing
			assert.Nil(t, p.bufs)
		})
	}
}

// TestPartPoolTooLarge: more than the address space holds is an error.
func TestPartPoolTooLarge(t *testing.T) {
	_, err := newPartPool(1<<20, 1<<62)
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
}

// TestPartBody: the body reads its buffer, seeks for the SDK's retries,
// and once closed neither reads nor seeks.
func TestPartBody(t *testing.T) {
	buf := []byte("0123456789")
	tests := []struct {
		name   string
		seek   int64
		whence int
		want   string
		err    bool
	}{
		{"start", 0, io.SeekStart, "0123456789", false},
		{"middle", 4, io.SeekStart, "456789", false},
		{"from end", -3, io.SeekEnd, "789", false},
		{"current", 2, io.SeekCurrent, "23456789", false},
		{"past the end", 20, io.SeekStart, "", false},
		{"negative", -1, io.SeekStart, "", true},
		{"bad whence", 0, 7, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newPartBody(buf)
			_, err := b.Seek(tc.seek, tc.whence)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			got, err := io.ReadAll(b)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
	t.Run("rewound", func(t *testing.T) {
		b := newPartBody(buf)
		first, _ := io.ReadAll(b)
		_, err := b.Seek(0, io.SeekStart)
		require.NoError(t, err)
		again, _ := io.ReadAll(b)
		assert.Equal(t, first, again)
	})
	t.Run("closed", func(t *testing.T) {
		b := newPartBody(buf)
		b.close()
		_, err := b.Read(make([]byte, 4))
		require.ErrorIs(t, err, errBodyClosed)
		_, err = b.Seek(0, io.SeekStart)
		require.ErrorIs(t, err, errBodyClosed)
	})
}

// TestPartBodyCloseWhileRead: a reader that goes on after close (the HTTP
// transport after its request returned) gets an error, never the bytes
// that the buffer holds next, and close waits for a read under way.
func TestPartBodyCloseWhileRead(t *testing.T) {
	p, err := newPartPool(1, 1<<20)
	require.NoError(t, err)
	defer p.release()
	buf := p.bufs[0]
	for i := range buf {
		buf[i] = 'a'
	}
	b := newPartBody(buf)
	var wg sync.WaitGroup
	wg.Add(1)
	var lateErr error
	go func() {
		defer wg.Done()
		chunk := make([]byte, 4096)
		for {
			n, err := b.Read(chunk)
			if bytes.IndexFunc(chunk[:n], func(r rune) bool { return r != 'a' }) >= 0 {
				lateErr = errors.New("read the next part's bytes")
				return
			}
			if err == io.EOF {
				if _, err := b.Seek(0, io.SeekStart); err != nil {
					return
				}
				continue
			}
			if err != nil {
				if !errors.Is(err, errBodyClosed) {
					lateErr = err
				}
				return
			}
		}
	}()
	b.close()
	for i := range buf { // the buffer's next part
		buf[i] = 'b'
	}
	wg.Wait()
	require.NoError(t, lateErr)
}
