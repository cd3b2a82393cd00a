package httpx

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var fuzzNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// FuzzParseRetryAfter: any header value parses to a bounded, non-negative
// delay or is refused; it never panics.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "7", "120", "-1", "1.5", "99999999999999999999", "Sun, 22 Nov 2026 12:00:07 GMT",
		"Sunday, 22-Nov-26 12:00:07 GMT", "Sun Nov 22 12:00:07 2026", "", " 3 ", "NaN", "1e308", "Thu, 01 Jan 1970 00:00:00 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, fuzzNow)
		if !ok {
			if d != 0 {
				t.Fatalf("refused %q but returned %v", v, d)
			}
			return
		}
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v out of range", v, d)
		}
	})
}

// FuzzRedactURL: no query value of a URL survives redaction, whatever the
// key, the value or the rest of the URL.
func FuzzRedactURL(f *testing.F) {
	f.Add("https://bucket.s3.amazonaws.com/f.csv", "X-Amz-Signature", "abcdef0123")
	f.Add("https://f005.backblazeb2.com/file/b/x.csv", "Authorization", "3_2026_tok")
	f.Add("http://127.0.0.1:9/s3/k", "sig", "v a l")
	f.Add("https://user:pass@host/p", "X-Amz-Security-Token", "IQoJb3JpZ2luX2Vj")
	f.Add("https://h/p#frag", "a;b", "c&d=e")
	f.Fuzz(func(t *testing.T, base, key, value string) {
		secret := "Zq" + value + "Qz"
		raw := base + "?" + url.QueryEscape(key) + "=" + url.QueryEscape(secret)
		outs := []string{RedactURLString(raw)}
		if !strings.ContainsAny(base, " \t\r\n\"'<>`?") {
			// In free text a URL ends at white space or a quote.
			outs = append(outs, RedactText("see "+raw+" now"))
		}
		if u, err := url.Parse(raw); err == nil {
			outs = append(outs, RedactURL(u))
		}
		for _, out := range outs {
			if strings.Contains(out, secret) || strings.Contains(out, url.QueryEscape(secret)) {
				t.Fatalf("secret survived: %q -> %q", raw, out)
			}
		}
	})
}

// FuzzRedactText: text with no URL and no query is returned unchanged, and
// redacting printable UTF-8 text twice gives the same text. (With invalid
// bytes in a host, net/url itself escapes differently on each pass; the
// no-leak property of FuzzRedactURL holds for any bytes.)
func FuzzRedactText(f *testing.F) {
	f.Add("get https://h/x?sig=1 failed")
	f.Add("no urls here")
	f.Add("HTTPS://H/?A=B https://x/?c=d&e")
	f.Fuzz(func(t *testing.T, s string) {
		out := RedactText(s)
		if !strings.Contains(s, "://") && !strings.Contains(s, "?") && out != s {
			t.Fatalf("changed text without a URL: %q -> %q", s, out)
		}
		if !printable(s) {
			return
		}
		if again := RedactText(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
