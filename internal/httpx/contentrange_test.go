package httpx

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in   string
		want ContentRange
		err  bool
	}{
		{in: "bytes 0-0/1", want: ContentRange{0, 0, 1}},
		{in: "bytes 100-199/200", want: ContentRange{100, 199, 200}},
		{in: "BYTES 5-9/*", want: ContentRange{5, 9, -1}},
		{in: "  bytes   7-7/8 ", want: ContentRange{7, 7, 8}},
		{in: "bytes */1234", want: ContentRange{-1, -1, 1234}},
		{in: "bytes 0-9223372036854775806/9223372036854775807", want: ContentRange{0, 9223372036854775806, 9223372036854775807}},
		{in: "", err: true},
		{in: "bytes", err: true},
		{in: "items 0-1/2", err: true},
		{in: "bytes 0-1", err: true},
		{in: "bytes */*", err: true},
		{in: "bytes 5-4/10", err: true},
		{in: "bytes 0-10/10", err: true},
		{in: "bytes -1-5/10", err: true},
		{in: "bytes +1-5/10", err: true},
		{in: "bytes 1 -5/10", err: true},
		{in: "bytes 0-5/-10", err: true},
		{in: "bytes 0-5/1x", err: true},
		{in: "bytes 0-9223372036854775808/9223372036854775809", err: true},
		{in: "bytes 0-99999999999999999999/1", err: true},
		{in: "bytes 1-2-3/4", err: true},
		{in: "bytes 0-1/2/3", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseContentRange(tt.in)
			if tt.err {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "Content-Range")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestContentRangeLen(t *testing.T) {
	assert.Equal(t, int64(100), ContentRange{100, 199, 200}.Len())
	assert.Equal(t, int64(0), ContentRange{-1, -1, 200}.Len())
}

func TestParseContentRangeErrorIsPrintable(t *testing.T) {
	_, err := ParseContentRange("bytes \x00\x1b[31m\n0-1/x")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "\x1b")
	assert.NotContains(t, err.Error(), "\n")
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-0/1", "bytes */5", "bytes 1-2/*", "bytes 9-1/3", "bytes 0-9223372036854775807/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseContentRange(s)
		if err != nil {
			return
		}
		if r.Start >= 0 && (r.End < r.Start || (r.Total >= 0 && r.End >= r.Total)) {
			t.Fatalf("%q: inconsistent %+v", s, r)
		}
		if r.Start < 0 && r.Total < 0 {
			t.Fatalf("%q: empty %+v", s, r)
		}
	})
}
