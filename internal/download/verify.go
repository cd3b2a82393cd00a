package download

import (
	"crypto/sha1"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"

	"github.com/exportkit/exportkit/internal/httpx"
)

// verifier hashes a download's bytes in order and compares the result with
// everything that says what the file should be, so that no second read is
// needed. Its methods may be called from several goroutines.
type verifier struct {
	mu      sync.Mutex
	sha1    hash.Hash // nil until a SHA-1 is to be verified or asked for
	extra   []digest  // the caller's checksums in other algorithms
	written bool      // bytes were hashed: too late to start a SHA-1
	hashed  int64     // bytes hashed

	callerSums []Checksum
	vendorSize int64  // -1 when unknown
	vendorSHA1 string // a vendor's SHA-1 (Orbit contentSha1)
	headerSHA1 string // Backblaze B2 X-Bz-Content-Sha1
	sum        string // hex SHA-1, once finished
	verified   bool
}

type digest struct {
	algo string
	h    hash.Hash
}

func (v *verifier) init(sums []Checksum, alwaysSHA1 bool) {
	if alwaysSHA1 {
		v.sha1 = sha1.New()
	}
	v.vendorSize = -1
	v.callerSums = sums
	for _, cs := range sums {
		if cs.Algo == "sha1" {
			v.needSHA1()
			continue
		}
		if v.hashOf(cs.Algo) != nil {
			continue
		}
		v.extra = append(v.extra, digest{cs.Algo, newHash(cs.Algo)})
	}
}

// active reports whether anything is being hashed.
func (v *verifier) active() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.sha1 != nil || len(v.extra) > 0
}

// expect takes the size and checksum the vendor reports.
func (v *verifier) expect(loc *Location) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.vendorSize = loc.Size
	if s := strings.ToLower(strings.TrimSpace(loc.SHA1)); isHex(s, sha1.Size) {
		v.vendorSHA1 = s
		v.needSHA1()
	}
}

// sameSHA1 reports whether a fresh location's SHA-1 agrees with the one
// known, when both are known.
func (v *verifier) sameSHA1(s string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return s == "" || v.vendorSHA1 == "" || strings.EqualFold(s, v.vendorSHA1)
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
	v.mu.Lock()
	defer v.mu.Unlock()
	val = strings.ToLower(strings.TrimSpace(val))
	val = strings.TrimPrefix(val, "unverified:")
	v.headerSHA1 = ""
	if isHex(val, sha1.Size) {
		v.headerSHA1 = val
		v.needSHA1()
	}
}

// write hashes the next bytes of the file.
func (v *verifier) write(p []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.written = true
	v.hashed += int64(len(p))
	if v.sha1 != nil {
		v.sha1.Write(p)
	}
	for i := range v.extra {
		v.extra[i].h.Write(p)
	}
}

// freeze stops a SHA-1 learned from now on from starting: the bytes are
// not hashed in order from here.
func (v *verifier) freeze() {
	v.mu.Lock()
	v.written = true
	v.mu.Unlock()
}

func (v *verifier) sha1Hex() string {
	v.mu.Lock()
	defer v.mu.Unlock()
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

// hashState is the marshalled state of every hash, for a resume state
// file.
type hashState struct {
	Hashed int64             `json:"hashed"`
	States map[string][]byte `json:"states,omitempty"`
}

func (v *verifier) marshal() (hashState, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := hashState{Hashed: v.hashed, States: map[string][]byte{}}
	put := func(algo string, h hash.Hash) error {
		m, ok := h.(encoding.BinaryMarshaler)
		if !ok {
			return errors.New("hash state cannot be saved")
		}
		b, err := m.MarshalBinary()
		st.States[algo] = b
		return err
	}
	if v.sha1 != nil {
		if err := put("sha1", v.sha1); err != nil {
			return st, err
		}
	}
	for _, d := range v.extra {
		if err := put(d.algo, d.h); err != nil {
			return st, err
		}
	}
	return st, nil
}

// restore takes a saved state: it must hold every hash this download
// computes (an earlier run without SHA-1 cannot continue one with it).
func (v *verifier) restore(st hashState) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	set := func(algo string, h hash.Hash) error {
		b, ok := st.States[algo]
		u, uok := h.(encoding.BinaryUnmarshaler)
		if !ok || !uok {
			return fmt.Errorf("no saved %s state", algo)
		}
		return u.UnmarshalBinary(b)
	}
	if st.Hashed > 0 && v.sha1 == nil && st.States["sha1"] != nil {
		v.sha1 = sha1.New() // the earlier run hashed: keep hashing
	}
	if v.sha1 != nil {
		if err := set("sha1", v.sha1); err != nil {
			return err
		}
	}
	for _, d := range v.extra {
		if err := set(d.algo, d.h); err != nil {
			return err
		}
	}
	v.hashed = st.Hashed
	v.written = st.Hashed > 0
	return nil
}

// finish verifies the whole file once it has been read: its length
// against every size announced, its SHA-1 against the vendor's and the
// storage host's, and the caller's checksums.
func (v *verifier) finish(got, total int64) error {
	if total >= 0 && got != total {
		return sizeError("received %d bytes, expected %d", got, total)
	}
	sum := v.sha1Hex()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.vendorSize >= 0 {
		if got != v.vendorSize {
			return sizeError("received %d bytes, the vendor reports %d", got, v.vendorSize)
		}
		v.verified = true
	}
	for _, want := range [...]struct{ what, hex string }{
		{"the vendor's SHA-1", v.vendorSHA1},
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
		if cs.Algo != "sha1" {
			got = hex.EncodeToString(v.hashOf(cs.Algo).Sum(nil))
		}
		if got != cs.Hex {
			return checksumError(cs.Algo, got, "WithChecksum", cs.Hex)
		}
		v.verified = true
	}
	return nil
}

func checksumError(algo, got, what, want string) error {
	return &kindError{ErrChecksumMismatch, fmt.Sprintf("checksum mismatch: %s of the bytes received is %s, %s says %s", algo, got, what, want)}
}

func parseContentRange(v string) (httpx.ContentRange, error) { return httpx.ParseContentRange(v) }

func fileNameOf(disposition, vendorName string) string {
	name, _ := httpx.DispositionFileName(disposition)
	if n := httpx.SanitizeFileName(name); n != "" {
		return n
	}
	return httpx.SanitizeFileName(vendorName)
}

func redactText(s string) string { return httpx.RedactText(s) }
