package s3dest

import (
	"encoding/base64"
	"encoding/binary"

	"github.com/minio/crc64nvme"
)

// CRC-64/NVME, the checksum S3 keeps for a whole object: polynomial
// 0xad93d23594c93659, reflected, initial value and final XOR all ones.
// nvmePoly is the reflected polynomial (as hash/crc64 takes it).
const nvmePoly = 0x9a6c9329ac4bc9b5

// crc64NVME is the CRC-64/NVME of b: every part's bytes go through it,
// so it is computed with carry-less multiplication where the CPU has it
// (github.com/minio/crc64nvme, 5× hash/crc64's tables on amd64).
func crc64NVME(b []byte) uint64 { return crc64nvme.Checksum(b) }

// encodeCRC is a CRC as S3 spells it: base64 of its 8 big-endian bytes.
func encodeCRC(c uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], c)
	return base64.StdEncoding.EncodeToString(b[:])
}

// decodeCRC reads a CRC that S3 spelled; ok is false when it is not one.
func decodeCRC(s string) (uint64, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// combineCRC returns the CRC of A followed by B from the CRC of A, the
// CRC of B and B's length, without the bytes: crc1 is advanced over len2
// zero bytes by repeated squaring of the one-zero-bit operator in GF(2)
// (the method of zlib's crc32_combine), then crc2 is added. The parts of
// a resumed upload are combined into the object's CRC this way, so the
// parts stored by an earlier run need not be read again.
func combineCRC(crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [64]uint64
	odd[0] = nvmePoly // the operator for one zero bit
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // eight zero bits the first time: a byte
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[64]uint64) {
	for n := range 64 {
		square[n] = gf2Times(mat, mat[n])
	}
}
