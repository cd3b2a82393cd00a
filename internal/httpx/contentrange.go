package httpx

import (
	"errors"
	"fmt"
	"strings"
)

// ContentRange is a parsed Content-Range header of a byte range response.
// Total is -1 when the server sent "*" (length unknown). For the
// unsatisfied form "bytes */N" (a 416 answer) Start and End are -1.
type ContentRange struct {
	Start, End, Total int64
}

// Len returns the number of bytes the range covers, 0 for the unsatisfied
// form.
func (r ContentRange) Len() int64 {
	if r.Start < 0 {
		return 0
	}
	return r.End - r.Start + 1
}

var errContentRange = errors.New("malformed Content-Range")

// ParseContentRange parses a Content-Range header value (RFC 9110 section
// 14.4): "bytes first-last/complete", "bytes first-last/*" or
// "bytes */complete". It checks first <= last < complete and that every
// number fits an int64. It never panics; anything else is an error.
func ParseContentRange(v string) (ContentRange, error) {
	bad := func(why string) (ContentRange, error) {
		return ContentRange{}, fmt.Errorf("%w %q: %s", errContentRange, excerptASCII(v, 64), why)
	}
	s := strings.TrimSpace(v)
	unit, rest, ok := strings.Cut(s, " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return bad("unit is not bytes")
	}
	rest = strings.TrimLeft(rest, " ")
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("no complete length")
	}
	r := ContentRange{Start: -1, End: -1, Total: -1}
	if tot != "*" {
		n, ok := parseDigits(tot)
		if !ok {
			return bad("bad complete length")
		}
		r.Total = n
	}
	if rng == "*" {
		if r.Total < 0 {
			return bad("neither range nor length")
		}
		return r, nil
	}
	first, last, ok := strings.Cut(rng, "-")
	if !ok {
		return bad("no range")
	}
	if r.Start, ok = parseDigits(first); !ok {
		return bad("bad first byte")
	}
	if r.End, ok = parseDigits(last); !ok {
		return bad("bad last byte")
	}
	switch {
	case r.End < r.Start:
		return bad("last byte before first")
	case r.Total >= 0 && r.End >= r.Total:
		return bad("range beyond complete length")
	}
	return r, nil
}

// parseDigits parses a non-empty run of ASCII digits into a non-negative
// int64, refusing signs, spaces and overflow.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// excerptASCII shortens s for an error message and replaces anything but
// printable ASCII, so that a hostile header cannot forge output.
func excerptASCII(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
