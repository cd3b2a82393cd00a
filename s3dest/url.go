package s3dest

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/errkind"
)

// Target is a parsed s3:// URL: a bucket, a key (or a prefix) and where
// the store is.
type Target struct {
	Bucket string
	Key    string // the object's key; for Clean, a prefix ("" for the whole bucket)
	// Endpoint is an S3-compatible store's base URL, "" for AWS.
	Endpoint     string
	Region       string // "" for the AWS default chain's region
	PathStyle    bool   // bucket in the path, not in the host name
	DisableHTTPS bool   // plain http to an endpoint given without a scheme
}

// String is the target as an s3:// URL without its query.
func (t Target) String() string { return "s3://" + t.Bucket + "/" + t.Key }

// IsURL reports whether s names an S3 object rather than a local path.
func IsURL(s string) bool { return strings.HasPrefix(strings.ToLower(s), "s3://") }

// Parse reads s3://BUCKET/KEY?endpoint=URL&region=R&use_path_style=true&disable_https=true,
// the query parameters named as gocloud.dev's s3blob URLs name them. A
// missing bucket or key (unless prefixOK), another scheme, an unknown
// query parameter or a bad value is an error matching
// exportkit.ErrInvalidInput.
func Parse(raw string, prefixOK bool) (Target, error) {
	bad := func(format string, args ...any) (Target, error) {
		return Target{}, &errkind.Error{Msg: "exportkit: s3: " + fmt.Sprintf(format, args...), Kinds: []error{exportkit.ErrInvalidInput}}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("cannot parse the destination URL %q", excerpt(stripQuery(raw), 200))
	}
	if !strings.EqualFold(u.Scheme, "s3") {
		return bad("destination %q: unknown scheme %q (want s3://BUCKET/KEY)", excerpt(stripQuery(raw), 200), excerpt(u.Scheme, 20))
	}
	if u.User != nil {
		return bad("destination %q: credentials do not belong in the URL (they come from the AWS default chain)", "s3://"+u.Host+u.Path)
	}
	var t Target
	t.Bucket = u.Host
	t.Key = strings.TrimPrefix(u.Path, "/")
	if t.Bucket == "" {
		return bad("destination %q: missing bucket (want s3://BUCKET/KEY)", excerpt(stripQuery(raw), 200))
	}
	if !prefixOK && (t.Key == "" || strings.HasSuffix(t.Key, "/")) {
		return bad("destination %q: missing object key (want s3://BUCKET/KEY)", t.String())
	}
	for k, vs := range u.Query() {
		v := ""
		if len(vs) > 0 {
			v = vs[len(vs)-1]
		}
		switch k {
		case "endpoint":
			t.Endpoint = v
		case "region":
			t.Region = v
		case "use_path_style", "disable_https":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("destination %s: %s=%q is not true or false", t, k, excerpt(v, 20))
			}
			if k == "use_path_style" {
				t.PathStyle = b
			} else {
				t.DisableHTTPS = b
			}
		default:
			return bad("destination %s: unknown query parameter %q (known: endpoint, region, use_path_style, disable_https)", t, excerpt(k, 40))
		}
	}
	if t.Endpoint != "" {
		ep := t.Endpoint
		if !strings.Contains(ep, "://") {
			scheme := "https://"
			if t.DisableHTTPS {
				scheme = "http://"
			}
			ep = scheme + ep
		}
		eu, err := url.Parse(ep)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
			return bad("destination %s: endpoint %q is not an http(s) URL", t, excerpt(t.Endpoint, 100))
		}
		if eu.User != nil || eu.RawQuery != "" {
			return bad("destination %s: the endpoint must not carry credentials or a query", t)
		}
		if eu.Scheme == "http" && !t.DisableHTTPS {
			return bad("destination %s: endpoint %s is plain http: add disable_https=true", t, eu.Host)
		}
		t.Endpoint = eu.String()
	}
	return t, nil
}

func stripQuery(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

// excerpt cuts s to at most n bytes, on a rune boundary, with "…".
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
