package exporttest

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Any range of a generated file reads the same bytes as the whole file,
// whatever the format, so ranged and resumed downloads see one file.
func TestLayoutRangesAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for fm := formatRaw; fm <= formatBotZip; fm++ {
		for _, size := range []int64{0, 1, 10, 100, 250, 1000, 70_001} {
			f := newFile("v", "id", 0, size, nil, fm)
			whole := f.bytes()
			require.Len(t, whole, int(size))
			for range 50 {
				if size == 0 {
					break
				}
				off := rng.Int64N(size)
				n := rng.Int64N(size-off) + 1
				p := make([]byte, n)
				got, err := f.ReadAt(p, off)
				require.Equal(t, int(n), got)
				if err != nil {
					assert.Equal(t, size, off+n, "EOF only at the end")
				}
				if !bytes.Equal(whole[off:off+n], p) {
					t.Fatalf("format %d size %d: range %d+%d differs", fm, size, off, n)
				}
			}
		}
	}
}

func BenchmarkLayout(b *testing.B) {
	for _, fm := range []format{formatRaw, formatLogsCSV, formatMemoriesJSON, formatBotZip} {
		b.Run(strconv.Itoa(int(fm)), func(b *testing.B) {
			f := newFile("v", "id", 0, 64<<20, nil, fm)
			p := make([]byte, 32<<10)
			b.SetBytes(int64(len(p)))
			off := int64(0)
			for b.Loop() {
				_, _ = f.ReadAt(p, off)
				off = (off + int64(len(p))) % (f.size - int64(len(p)))
			}
		})
	}
}
