package main

import (
	"strings"
	"testing"
)

func TestSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64  // 0: an error
		err  string // in the error
	}{
		{"1048576", 1 << 20, ""},
		{"8MiB", 8 << 20, ""},
		{"8mib", 8 << 20, ""},
		{"8 MiB", 8 << 20, ""},
		{"512KiB", 512 << 10, ""},
		{"1GiB", 1 << 30, ""},
		{"4M", 4 << 20, ""},
		{"4m", 4 << 20, ""},
		{" 2 MiB", 2 << 20, ""},
		{"1.5MiB", 3 << 19, ""},
		{"65536B", 64 << 10, ""},
		{"0", 0, "at least 64KiB"},
		{"1", 0, "at least 64KiB"},
		{"-1MiB", 0, "not a size"},
		{"MiB", 0, "not a size"},
		{"10TB", 0, "not a size"},
		{"8MB", 0, "write 8MiB"},
		{"16kb", 0, "write 16KiB"},
		{"1.0000001MiB", 0, "whole number"},
	} {
		var f sizeFlag
		err := f.Set(tc.in)
		if tc.want == 0 {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one saying %q (got %d)", tc.in, err, tc.err, f.n)
			}
			continue
		}
		if err != nil || f.n != tc.want || !f.set {
			t.Errorf("%q = %d, %v; want %d", tc.in, f.n, err, tc.want)
		}
	}
}

func TestCountFlag(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "16": 16, " 3": 3, "0": 0, "-3": 0, "x": 0, "1.5": 0} {
		var f countFlag
		err := f.Set(in)
		if (err == nil) != (want > 0) || f.n != want {
			t.Errorf("%q = %d, %v; want %d", in, f.n, err, want)
		}
	}
}
