package s3dest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/exportkit/exportkit/s3dest"
)

// TestDeliverMemory: a delivery holds one buffer per connection, or fewer
// under WithMemoryLimit, each of one part size, allocated once; and the
// parts stay out of the Go heap (where the system maps anonymous memory):
// the heap allocates less than one part.
func TestDeliverMemory(t *testing.T) {
	const size, partSize = 15 << 20, 5 << 20 // 3 parts
	tests := []struct {
		name  string
		conns int
		limit int64
		bufs  int
	}{
		{"one per connection", 2, 0, 2},
		{"fewer parts than connections", 16, 0, 3},
		{"a memory limit", 16, 2*partSize + 1, 2},
		{"a limit under one part", 16, 1, 1},
	}
	// Held, not generated, so that the source allocates nothing per byte.
	content := make([]byte, size)
	rand.Read(content)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if raceOn && i > 1 {
				t.Skip("the race detector slows hashing some tenfold; two cases run with it")
			}
			st := newStore(t)
			src := newSource(t, size, exporttest.FileContent(content))
			var mu sync.Mutex
			var pools [][2]int64
			s3dest.OnPool(t, func(n int, size int64) {
				mu.Lock()
				pools = append(pools, [2]int64{int64(n), size})
				mu.Unlock()
			})
			var opts []s3dest.Option
			if tc.limit > 0 {
				opts = append(opts, s3dest.WithMemoryLimit(tc.limit))
			}
			d := st.dest("m.bin", opts...)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := src.c.DownloadTo(context.Background(), src.export(t), d,
				exportkit.WithPartSize(partSize), exportkit.WithConnections(tc.conns))
			require.NoError(t, err)
			runtime.ReadMemStats(&after)
			require.Equal(t, [][2]int64{{int64(tc.bufs), partSize}}, pools, "one pool of one buffer per part read at once")
			assert.True(t, st.sameObject("m.bin", bytes.NewReader(content), size), "byte-identical")
			if offHeap {
				// The source server runs in this process, and allocates a
				// little per request; the parts take nothing.
				alloc := after.TotalAlloc - before.TotalAlloc
				t.Logf("heap allocated %d MiB for %d MiB in %d buffers", alloc>>20, size>>20, tc.bufs)
				assert.Less(t, alloc, uint64(partSize), "the parts are not on the Go heap")
			}
		})
	}
}
