package s3dest

import (
	"hash/crc64"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCRC64NVMECheckValue(t *testing.T) {
	// The catalogue's check value of CRC-64/NVME.
	assert.Equal(t, uint64(0xae8b14860a799888), crc64NVME([]byte("123456789")))
	c, ok := decodeCRC(encodeCRC(0xae8b14860a799888))
	require.True(t, ok)
	assert.Equal(t, uint64(0xae8b14860a799888), c)
	_, ok = decodeCRC("not base64!")
	assert.False(t, ok)
}

func TestCombineCRC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<16)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct{ a, b int }{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {7, 9}, {1000, 1}, {3, 40000}, {32768, 32768}} {
		a, b := data[:tc.a], data[tc.a:tc.a+tc.b]
		got := combineCRC(crc64NVME(a), crc64NVME(b), int64(len(b)))
		assert.Equal(t, crc64NVME(data[:tc.a+tc.b]), got, "a=%d b=%d", tc.a, tc.b)
	}
}

// TestCRC64NVMEMatchesTables: the accelerated CRC is hash/crc64's with the
// NVME polynomial, at every length around its block sizes.
func TestCRC64NVMEMatchesTables(t *testing.T) {
	table := crc64.MakeTable(nvmePoly)
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1<<20+300)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 1, 7, 8, 15, 16, 63, 64, 65, 127, 128, 129, 255, 256, 511, 512, 4095, 4096, 65537, 1 << 20, len(data)} {
		for _, off := range []int{0, 1, 3} {
			if off+n > len(data) {
				continue
			}
			b := data[off : off+n]
			assert.Equal(t, crc64.Checksum(b, table), crc64NVME(b), "n=%d off=%d", n, off)
		}
	}
}

func BenchmarkCRC64NVME(b *testing.B) {
	buf := make([]byte, 8<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		crc64NVME(buf)
	}
}
