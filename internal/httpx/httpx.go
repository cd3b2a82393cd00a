// Package httpx holds the small HTTP parsers and sanitizers exportkit
// depends on for safety: Retry-After, URL redaction, and (in their own
// files) Content-Range and Content-Disposition. Each is a pure function,
// fuzzed on its own.
package httpx

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter bounds a parsed Retry-After so that a hostile or broken
// server cannot make a duration overflow.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter parses a Retry-After header value: delay-seconds or an
// HTTP-date, relative to now. It reports false when v is empty or
// malformed. A date in the past is a zero delay; values are capped at
// MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && len(v) < 32 {
		// Not in RFC 9110, but some servers send fractions: round up.
		if f > MaxRetryAfter.Seconds() {
			return MaxRetryAfter, true
		}
		return time.Duration(f * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		return 0, true
	}
	if d > MaxRetryAfter {
		d = MaxRetryAfter
	}
	// HTTP dates have one-second resolution: round up so that the floor is
	// never shortened.
	return d.Truncate(time.Second) + roundUp(d%time.Second), true
}

func roundUp(rem time.Duration) time.Duration {
	if rem > 0 {
		return time.Second
	}
	return 0
}

// Redacted is what replaces a secret in redacted output.
const Redacted = "REDACTED"

// RedactURL returns u as a string with its userinfo and every query value
// replaced by REDACTED (the keys are kept, so a reader still sees what kind
// of URL it was). A signed URL's signature, credential, token and expiry all
// live in the query, so none of them survives. The fragment is dropped.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := *u
	r.User = nil
	r.Fragment, r.RawFragment = "", ""
	if r.RawQuery != "" || r.ForceQuery {
		r.RawQuery = redactQuery(r.RawQuery)
	}
	s := r.String()
	if u.User != nil {
		s = strings.Replace(s, "://", "://"+Redacted+"@", 1)
	}
	return s
}

// RedactURLString is RedactURL for a URL in text form. An unparsable URL,
// or one without a host, is cut at its first '?' or '#', and its userinfo
// dropped.
func RedactURLString(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return RedactURL(u)
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		tail := ""
		if s[i] == '?' {
			tail = "?" + Redacted
		}
		s = s[:i] + tail
	}
	if i := strings.Index(s, "://"); i >= 0 {
		// Lower-case the scheme, as url.URL.String does, so that
		// redacting twice gives the same text.
		s = strings.ToLower(s[:i]) + s[i:]
		if j := strings.LastIndex(s[i+3:], "@"); j >= 0 {
			s = s[:i+3] + Redacted + "@" + s[i+3+j+1:]
		}
	}
	return s
}

// redactQuery keeps each key of a raw query and replaces every value.
func redactQuery(raw string) string {
	if raw == "" {
		return Redacted
	}
	parts := strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' })
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		if !hasValue { // a bare word ("?sk_live_…") is a value, not a key
			parts[i] = Redacted
			continue
		}
		if uk, err := url.QueryUnescape(k); err != nil || !safeKey(uk) {
			k = Redacted
		}
		parts[i] = k + "=" + Redacted
	}
	if len(parts) == 0 {
		return Redacted
	}
	return strings.Join(parts, "&")
}

// safeKey reports whether a query key may be shown: short and made only of
// the characters query parameter names use. Anything else could be a
// secret passed as a bare key.
func safeKey(k string) bool {
	if k == "" || len(k) > 40 {
		return false
	}
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

// RedactText redacts every http(s) URL that appears in free text, such as
// an error message echoed from a server or a net/http error string, and
// any other "?key=value" run, in case a URL lost its scheme on the way.
func RedactText(s string) string {
	if strings.Contains(s, "://") {
		s = redactURLsInText(s)
	}
	if strings.Contains(s, "?") {
		s = redactLooseQueries(s)
	}
	return s
}

// textStop ends a URL or a query inside free text.
const textStop = " \t\r\n\"'<>`"

func redactURLsInText(s string) string {
	var b strings.Builder
	for {
		i := indexScheme(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := tokenEnd(s)
		b.WriteString(RedactURLString(s[:end]))
		s = s[end:]
	}
}

// tokenEnd returns where a URL or query that starts s ends in free text:
// at white space or a quote, less the punctuation that ends a sentence
// ("…?sig=x: EOF").
func tokenEnd(s string) int {
	end := strings.IndexAny(s, textStop)
	if end < 0 {
		end = len(s)
	}
	for end > 0 && strings.IndexByte(":,.;)]", s[end-1]) >= 0 {
		end--
	}
	return end
}

// redactLooseQueries redacts every "?…" run that holds a "=".
func redactLooseQueries(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '?')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+1])
		s = s[i+1:]
		end := tokenEnd(s)
		run := s[:end]
		if strings.Contains(run, "=") {
			run = redactQuery(run)
		}
		b.WriteString(run)
		s = s[end:]
	}
}

// indexScheme finds the start of the next "http://" or "https://" in s,
// ignoring ASCII case. It compares bytes in place: lower-casing a copy
// would change its length when s holds invalid UTF-8.
func indexScheme(s string) int {
	for i := 0; i+7 <= len(s); i++ {
		if c := s[i]; c != 'h' && c != 'H' {
			continue
		}
		if hasPrefixFoldASCII(s[i:], "http://") || hasPrefixFoldASCII(s[i:], "https://") {
			return i
		}
	}
	return -1
}

// hasPrefixFoldASCII reports whether s starts with prefix (lower-case
// ASCII), ignoring ASCII case.
func hasPrefixFoldASCII(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// IsLoopback reports whether host (a name or an IP address, without a
// port) is this machine: localhost, a name under .localhost, or a loopback
// address. Plain http is allowed only to such hosts.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RetryableStatus reports a status worth another attempt: 408, 429 and
// every 5xx but 501 Not Implemented. The API client and the download
// engine retry the same statuses.
func RetryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests ||
		(code >= 500 && code <= 599 && code != http.StatusNotImplemented)
}
