package main

import "testing"

func TestSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"1048576", 1 << 20},
		{"8MiB", 8 << 20},
		{"512KiB", 512 << 10},
		{"1GiB", 1 << 30},
		{"4M", 4 << 20},
		{" 2 MiB", 2 << 20},
		{"0", 0},
		{"-1MiB", 0},
		{"1.5MiB", 0},
		{"MiB", 0},
		{"10TB", 0},
	} {
		var f sizeFlag
		err := f.Set(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("%q: no error, got %d", tc.in, f.n)
			}
			continue
		}
		if err != nil || f.n != tc.want || !f.set {
			t.Errorf("%q = %d, %v; want %d", tc.in, f.n, err, tc.want)
		}
	}
}
