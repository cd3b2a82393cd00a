package exportkit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestFileWriter: the writeback hint never changes the bytes written.
func TestFileWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := bytes.Repeat([]byte("0123456789abcdef"), (20<<20)/16+3) // 20 MiB and a bit: several hints and a tail
	w := newFileWriter(f)
	for p := want; len(p) > 0; {
		n := min(len(p), 300<<10)
		if m, err := w.Write(p[:n]); err != nil || m != n {
			t.Fatalf("Write = %d, %v", m, err)
		}
		p = p[n:]
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file differs from what was written: %d bytes, want %d", len(got), len(want))
	}
}
