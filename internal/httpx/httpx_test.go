package httpx

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 12 ", 12 * time.Second, true},
		{"-3", 0, false},
		{"abc", 0, false},
		{"1.5", 1500 * time.Millisecond, true},
		{"99999999999", MaxRetryAfter, true},
		{fuzzNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sun, 22 Nov 2026 12:00:07 GMT", 7 * time.Second, true},
		{"Sun, 22 Nov 2026 11:00:00 GMT", 0, true},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, fuzzNow)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	// A date with sub-second remainder rounds up: never shorter than asked.
	got, _ := ParseRetryAfter("Sun, 22 Nov 2026 12:00:07 GMT", fuzzNow.Add(-300*time.Millisecond))
	assert.Equal(t, 8*time.Second, got)
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://b.s3.amazonaws.com/f.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2026&X-Amz-Signature=deadbeef",
			"https://b.s3.amazonaws.com/f.csv?X-Amz-Algorithm=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"},
		{"https://f005.backblazeb2.com/file/b/x.csv?Authorization=3_tok", "https://f005.backblazeb2.com/file/b/x.csv?Authorization=REDACTED"},
		{"https://user:pw@h/p?x=1#frag", "https://REDACTED@h/p?x=REDACTED"},
		{"https://h/p?sk_live_abcdef", "https://h/p?REDACTED"},
		{"https://h/p", "https://h/p"},
		{"https://h/p?", "https://h/p?REDACTED"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if assert.NoError(t, err) {
			assert.Equal(t, tt.want, RedactURL(u), tt.in)
		}
	}
	assert.Equal(t, "", RedactURL(nil))
	assert.Equal(t, "https://h/%zz?REDACTED", RedactURLString("https://h/%zz?sig=secret"))
	assert.Equal(t, "get https://h/x?sig=REDACTED: EOF", RedactText(`get https://h/x?sig=s3cr3t: EOF`))
	assert.Equal(t, `"http://a/?k=REDACTED" and https://B/?t=REDACTED`, RedactText(`"http://a/?k=v" and HTTPS://B/?t=tok`))
}
