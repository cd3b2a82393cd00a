package httpx

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDispositionFileName(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            bool
	}{
		{name: "none", in: "attachment", want: ""},
		{name: "empty", in: "", want: ""},
		{name: "quoted", in: `attachment; filename="report.csv"`, want: "report.csv"},
		{name: "token", in: `attachment; filename=report.csv`, want: "report.csv"},
		{name: "unquoted with spaces", in: `attachment; filename=my report.csv`, want: "my report.csv"},
		{name: "escaped quote", in: `attachment; filename="a\"b.csv"`, want: `a"b.csv`},
		{name: "semicolon in quotes", in: `attachment; filename="a;b.csv"; size=3`, want: "a;b.csv"},
		{name: "case", in: `ATTACHMENT; FileName="X.csv"`, want: "X.csv"},
		{name: "no type", in: `filename="x.zip"`, want: "x.zip"},
		{name: "ext preferred", in: `attachment; filename="plain.csv"; filename*=UTF-8''%E2%82%AC%20rates.csv`, want: "€ rates.csv"},
		{name: "ext first", in: `attachment; filename*=utf-8'en'%C3%A9t%C3%A9.csv; filename="ete.csv"`, want: "été.csv"},
		{name: "ext latin1", in: `attachment; filename*=ISO-8859-1''%E9t%E9.csv`, want: "été.csv"},
		{name: "ext quoted", in: `attachment; filename*="UTF-8''a%20b.csv"`, want: "a b.csv"},
		{name: "ext bad utf8 falls back", in: `attachment; filename=ok.csv; filename*=UTF-8''%FF%FE.csv`, want: "ok.csv"},
		{name: "ext bad escape falls back", in: `attachment; filename*=UTF-8''%G1.csv; filename=ok.csv`, want: "ok.csv"},
		{name: "ext unknown charset falls back", in: `attachment; filename*=KOI8-R''%C1.csv; filename=ok.csv`, want: "ok.csv"},
		{name: "ext bad alone", in: `attachment; filename*=UTF-8''%FF`, err: true},
		{name: "ext without charset", in: `attachment; filename*=abc`, err: true},
		{name: "unterminated", in: `attachment; filename="abc`, err: true},
		{name: "first of duplicates", in: `attachment; filename=a.csv; filename=b.csv`, want: "a.csv"},
		{name: "trailing escape", in: `attachment; filename="a\`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DispositionFileName(tt.in)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// The payloads of QUALITY.md item 4.
func TestSanitizeFileName(t *testing.T) {
	long := strings.Repeat("a", 300)
	longUTF8 := strings.Repeat("é", 200) // 400 bytes
	tests := []struct{ name, in, want string }{
		{"plain", "report.csv", "report.csv"},
		{"traversal", "../../etc/passwd", "passwd"},
		{"windows traversal", `..\..\x`, "x"},
		{"trailing slash", "dir/", ""},
		{"dotdot", "..", ""},
		{"dot", ".", ""},
		{"leading dots", "...hidden.csv", "hidden.csv"},
		{"dotfile", ".bashrc", "bashrc"},
		{"trailing dots and spaces", "name.csv. . ", "name.csv"},
		{"NUL", "a\x00b.csv", "ab.csv"},
		{"control", "a\r\nb\x1b[31m.csv", "ab[31m.csv"},
		{"bidi override", "invoice\u202Efdp.exe", "invoicefdp.exe"},
		{"bad utf8", "a\xff.csv", "a_.csv"},
		{"windows reserved", `a<b>c:d"e|f?g*.csv`, "a_b_c_d_e_f_g_.csv"},
		{"device", "CON.txt", "_CON.txt"},
		{"empty", "", ""},
		{"only junk", "\x00\x01/..", ""},
		{"unicode", "€ rates.csv", "€ rates.csv"},
		{"300 bytes", long + ".csv", strings.Repeat("a", 251) + ".csv"},
		{"300 bytes no ext", long, strings.Repeat("a", 255)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, SanitizeFileName(tt.in))
		})
	}
	got := SanitizeFileName(longUTF8 + ".csv")
	assert.LessOrEqual(t, len(got), MaxFileName)
	assert.True(t, utf8.ValidString(got))
	assert.True(t, strings.HasSuffix(got, ".csv"))
	got = SanitizeFileName(longUTF8)
	assert.LessOrEqual(t, len(got), MaxFileName)
	assert.True(t, utf8.ValidString(got))
}

func FuzzSanitizeFileName(f *testing.F) {
	for _, s := range []string{"../../etc/passwd", `..\..\x`, "a\x00b", ".hidden", strings.Repeat("é", 200), "CON", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SanitizeFileName(s)
		if got == "" {
			return
		}
		if len(got) > MaxFileName || !utf8.ValidString(got) || strings.ContainsAny(got, "/\\\x00") ||
			strings.HasPrefix(got, ".") || got == ".." {
			t.Fatalf("SanitizeFileName(%q) = %q", s, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("SanitizeFileName(%q) = %q has a control character", s, got)
			}
		}
	})
}

func FuzzDispositionFileName(f *testing.F) {
	for _, s := range []string{`attachment; filename="a.csv"`, `attachment; filename*=UTF-8''%E2%82%AC.csv`, `filename="unterminated`, `;;=;"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := DispositionFileName(s)
		if err != nil && name != "" {
			t.Fatalf("%q: name %q with error %v", s, name, err)
		}
		_ = SanitizeFileName(name)
	})
}
