package httpx

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxFileName is the longest file name, in bytes, that SanitizeFileName
// returns: the limit of most file systems.
const MaxFileName = 255

var errDisposition = errors.New("malformed Content-Disposition")

// DispositionFileName returns the file name a Content-Disposition header
// value suggests, unsanitized: the RFC 5987 / RFC 6266 extended form
// filename*=UTF-8”… (or ISO-8859-1) when present and decodable, else the
// plain filename=. It returns "" when the header names no file. It is
// tolerant of what servers send in practice (no disposition type, unquoted
// names with spaces, a quoted extended value) and never panics; an
// unterminated quoted string or an extended value that cannot be decoded
// with no plain name to fall back on is an error.
func DispositionFileName(v string) (string, error) {
	params, err := dispositionParams(v)
	var plain, ext string
	var havePlain, haveExt bool
	var extErr error
	for _, p := range params {
		switch p.key {
		case "filename":
			if !havePlain {
				plain, havePlain = p.value, true
			}
		case "filename*":
			if !haveExt {
				haveExt = true
				ext, extErr = decodeExtValue(p.value)
			}
		}
	}
	switch {
	case haveExt && extErr == nil:
		return ext, nil
	case havePlain:
		return plain, nil
	case err != nil:
		return "", err
	case extErr != nil:
		return "", extErr
	}
	return "", nil
}

type dispositionParam struct{ key, value string }

// dispositionParams splits "type; k=v; k2="q\"v"" into its parameters,
// keys lower-cased. On an unterminated quoted string it returns the
// parameters read so far and an error.
func dispositionParams(s string) ([]dispositionParam, error) {
	var out []dispositionParam
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ';' || s[i] == ' ' || s[i] == '\t') {
			i++
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ';' {
			i++
		}
		if i >= len(s) || s[i] == ';' {
			continue // the disposition type, or a parameter without a value
		}
		key := strings.ToLower(strings.TrimSpace(s[start:i]))
		i++ // '='
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var val string
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return out, errors.Join(errDisposition, errors.New("unterminated quoted string"))
			}
			val = b.String()
			for i < len(s) && s[i] != ';' {
				i++
			}
		} else {
			start := i
			for i < len(s) && s[i] != ';' {
				i++
			}
			val = strings.TrimSpace(s[start:i])
		}
		out = append(out, dispositionParam{key, val})
	}
	return out, nil
}

// decodeExtValue decodes an RFC 8187 ext-value: charset'language'pct-encoded.
// UTF-8 (which must then be valid) and ISO-8859-1 are understood.
func decodeExtValue(v string) (string, error) {
	charset, rest, ok := strings.Cut(v, "'")
	if !ok {
		return "", errors.Join(errDisposition, errors.New("filename* without charset"))
	}
	_, enc, ok := strings.Cut(rest, "'")
	if !ok {
		return "", errors.Join(errDisposition, errors.New("filename* without language field"))
	}
	raw, ok := percentDecode(enc)
	if !ok {
		return "", errors.Join(errDisposition, errors.New("filename* has a bad percent escape"))
	}
	switch strings.ToLower(charset) {
	case "utf-8", "us-ascii":
		if !utf8.ValidString(raw) {
			return "", errors.Join(errDisposition, errors.New("filename* is not valid UTF-8"))
		}
		return raw, nil
	case "iso-8859-1":
		r := make([]rune, len(raw))
		for i := 0; i < len(raw); i++ {
			r[i] = rune(raw[i])
		}
		return string(r), nil
	}
	return "", errors.Join(errDisposition, errors.New("filename* charset not supported"))
}

func percentDecode(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		h, ok1 := unhex(s[i+1])
		l, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b = append(b, h<<4|l)
		i += 2
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// SanitizeFileName turns a name suggested by a server into a single local
// file name, or "" when nothing safe is left. Only the last element of a
// path (split at '/' and '\') is kept, invalid UTF-8 becomes '_', control
// and format characters (NUL, CR, LF, bidi overrides, …) are dropped, the
// characters Windows reserves become '_', leading dots and spaces and
// trailing dots and spaces are trimmed (so ".", "..", and hidden files are
// impossible), Windows device names get a '_' prefix, and the result is cut
// to MaxFileName bytes on a character boundary, keeping a short extension.
func SanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			return -1
		case strings.ContainsRune(`<>:"|?*`, r):
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ". \t")
	name = strings.TrimRight(name, ". \t")
	if name == "" {
		return ""
	}
	stem, _, _ := strings.Cut(name, ".")
	if windowsDevice(stem) {
		name = "_" + name
	}
	return cutName(name, MaxFileName)
}

// cutName cuts name to at most n bytes on a rune boundary, keeping an
// extension of up to 16 bytes.
func cutName(name string, n int) string {
	if len(name) <= n {
		return name
	}
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 {
		ext = name[i:]
		name = name[:i]
	}
	cut := n - len(ext)
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strings.TrimRight(name[:cut], ". \t") + ext
}

func windowsDevice(stem string) bool {
	switch strings.ToUpper(strings.TrimSpace(stem)) {
	case "CON", "PRN", "AUX", "NUL",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return true
	}
	return false
}
