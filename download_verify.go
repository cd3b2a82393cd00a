package exportkit

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// verifier hashes a download as it streams and compares the result with
// everything that says what the file should be, so that no second read is
// needed.
type verifier struct {
	sha1    hash.Hash // nil under WithoutSHA1 until a SHA-1 is to be verified
	extra   []digest  // the caller's checksums in other algorithms
	written bool      // bytes were hashed: too late to start a SHA-1

	callerSums []checksum
	vendorSize int64  // -1 when unknown
	vendorSHA1 string // Orbit contentSha1
	headerSHA1 string // Backblaze B2 X-Bz-Content-Sha1
	sum        string // hex SHA-1, once finished
	verified   bool
}

type digest struct {
	algo string
	h    hash.Hash
}

func (v *verifier) init(sums []checksum, alwaysSHA1 bool) {
	if alwaysSHA1 {
		v.sha1 = sha1.New()
	}
	v.vendorSize = -1
	v.callerSums = sums
	for _, cs := range sums {
		if cs.algo == "sha1" {
			v.needSHA1()
			continue
		}
		if v.hashOf(cs.algo) != nil {
			continue
		}
		v.extra = append(v.extra, digest{cs.algo, newHash(cs.algo)})
	}
}

// expect takes the size and checksum the vendor reports.
func (v *verifier) expect(loc *fileLocation) {
	v.vendorSize = loc.size
	if s := strings.ToLower(strings.TrimSpace(loc.sha1)); isHex(s, sha1.Size) {
		v.vendorSHA1 = s
		v.needSHA1()
	}
}

// needSHA1 starts hashing with SHA-1 if nothing has been hashed yet. A
// SHA-1 learned after the first bytes cannot be checked and is ignored.
func (v *verifier) needSHA1() {
	if v.sha1 == nil && !v.written {
		v.sha1 = sha1.New()
	}
}

// header takes B2's X-Bz-Content-Sha1: a hex SHA-1, "none" for a large
// file uploaded in parts, or "unverified:<hex>" when the uploader's value
// was not checked by B2 (still the right value to compare with).
func (v *verifier) header(val string) {
	val = strings.ToLower(strings.TrimSpace(val))
	val = strings.TrimPrefix(val, "unverified:")
	v.headerSHA1 = ""
	if isHex(val, sha1.Size) {
		v.headerSHA1 = val
		v.needSHA1()
	}
}

func (v *verifier) write(p []byte) {
	v.written = true
	if v.sha1 != nil {
		v.sha1.Write(p)
	}
	for i := range v.extra {
		v.extra[i].h.Write(p)
	}
}

func (v *verifier) sha1Hex() string {
	if v.sha1 == nil {
		return ""
	}
	if v.sum == "" {
		v.sum = hex.EncodeToString(v.sha1.Sum(nil))
	}
	return v.sum
}

func (v *verifier) hashOf(algo string) hash.Hash {
	for _, d := range v.extra {
		if d.algo == algo {
			return d.h
		}
	}
	return nil
}

// finish verifies the whole file once it has been read: its length
// against every size announced, its SHA-1 against the vendor's and the
// storage host's, and the caller's checksums.
func (t *transfer) finish() error {
	v := &t.ver
	if t.total >= 0 && t.off != t.total {
		return &sentinelError{ErrSizeMismatch, fmt.Sprintf("size mismatch: received %d bytes, expected %d", t.off, t.total)}
	}
	if v.vendorSize >= 0 {
		if t.off != v.vendorSize {
			return &sentinelError{ErrSizeMismatch, fmt.Sprintf("size mismatch: received %d bytes, %s reports %d", t.off, t.src.vendor, v.vendorSize)}
		}
		v.verified = true
	}
	sum := v.sha1Hex()
	for _, want := range [...]struct{ what, hex string }{
		{string(t.src.vendor) + "'s SHA-1", v.vendorSHA1},
		{"X-Bz-Content-Sha1", v.headerSHA1},
	} {
		if want.hex == "" || sum == "" {
			continue
		}
		if want.hex != sum {
			return checksumError("SHA-1", sum, want.what, want.hex)
		}
		v.verified = true
	}
	for _, cs := range v.callerSums {
		got := sum
		if cs.algo != "sha1" {
			got = hex.EncodeToString(v.hashOf(cs.algo).Sum(nil))
		}
		if got != cs.hex {
			return checksumError(cs.algo, got, "WithChecksum", cs.hex)
		}
		v.verified = true
	}
	if t.cfg.progress != nil {
		t.cfg.progress(Progress{Done: t.off, Total: t.off})
	}
	return nil
}

func checksumError(algo, got, what, want string) error {
	return &sentinelError{ErrChecksumMismatch, fmt.Sprintf("checksum mismatch: %s of the bytes received is %s, %s says %s", algo, got, what, want)}
}

// normalizeChecksum checks a WithChecksum algorithm and digest and returns
// the algorithm's canonical name.
func normalizeChecksum(algo, digest string) (string, error) {
	a := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(algo)), "-", "")
	h := newHash(a)
	if h == nil {
		return "", fmt.Errorf("unknown algorithm %q (use sha1, sha256 or md5)", excerpt(algo, 32))
	}
	if !isHex(strings.ToLower(strings.TrimSpace(digest)), h.Size()) {
		return "", fmt.Errorf("%s digest must be %d hex digits", a, 2*h.Size())
	}
	return a, nil
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "md5":
		return md5.New()
	}
	return nil
}

// isHex reports whether s is exactly 2*size lower-case hex digits.
func isHex(s string, size int) bool {
	if len(s) != 2*size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
