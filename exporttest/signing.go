package exporttest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// Storage path prefixes, one per vendor, each with the URL style of the
// storage that vendor really uses.
const (
	s3Prefix    = "/s3/"   // Brainbase: presigned S3 (X-Amz-*)
	b2Prefix    = "/file/" // Orbit: Backblaze B2 (?Authorization=)
	korePrefix  = "/kore/" // Kore: ?e=&sig= (store.urlParams)
	cfPrefix    = "/ms/"   // Memsolus redirects: CloudFront-style (Expires, Signature)
	redirPrefix = "/redirect/"
)

// urlTTL is how long a URL minted for vendor v stays valid.
func (s *Server) urlTTL(v exportkit.Vendor) time.Duration {
	if s.cfg.urlTTL > 0 {
		return s.cfg.urlTTL
	}
	switch v {
	case exportkit.Brainbase:
		return 24 * time.Hour
	case exportkit.Orbit:
		return time.Hour
	case exportkit.Kore:
		return 15 * time.Minute
	}
	return 5 * time.Minute
}

// signature is the HMAC of a storage path and expiry under URL generation
// gen; ExpireURLs starts a new generation.
func (s *Server) signature(gen int, path string, expires int64) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%d\n%s\n%d", gen, path, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// signedURL mints a fresh download URL for e's file, valid from now for the
// vendor's TTL. urlParams is the query alone (Kore's store.urlParams). The
// caller holds s.mu.
func (s *Server) signedURL(e *export, now time.Time) (u string, expires time.Time, urlParams string) {
	ttl := s.urlTTL(e.vendor)
	now = now.UTC().Truncate(time.Second)
	expires = now.Add(ttl)
	p := e.file.path
	sig := s.signature(s.urlGen, p, expires.Unix())
	q := url.Values{}
	switch {
	case strings.HasPrefix(p, s3Prefix):
		q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
		q.Set("X-Amz-Credential", "AKIAEXPORTTEST/"+now.Format("20060102")+"/us-east-1/s3/aws4_request")
		q.Set("X-Amz-Date", now.Format("20060102T150405Z"))
		q.Set("X-Amz-Expires", strconv.FormatInt(int64(ttl/time.Second), 10))
		q.Set("X-Amz-SignedHeaders", "host")
		q.Set("X-Amz-Signature", sig)
	case strings.HasPrefix(p, b2Prefix):
		q.Set("Authorization", "3_"+strconv.FormatInt(expires.Unix(), 10)+"_"+sig)
	case strings.HasPrefix(p, korePrefix):
		q.Set("e", strconv.FormatInt(expires.Unix(), 10))
		q.Set("sig", sig)
	default:
		q.Set("Expires", strconv.FormatInt(expires.Unix(), 10))
		q.Set("Signature", sig)
		q.Set("Key-Pair-Id", "APKAEXPORTTEST")
	}
	urlParams = q.Encode()
	return s.storageURL + p + "?" + urlParams, expires, urlParams
}

// urlCheck is the outcome of verifying a signed URL.
type urlCheck int

const (
	urlValid urlCheck = iota
	urlExpired
	urlBadSignature
)

// verifyURL checks the signature and expiry of a storage request for path p.
func (s *Server) verifyURL(p string, q url.Values, now time.Time) urlCheck {
	var expStr, sig string
	switch {
	case strings.HasPrefix(p, s3Prefix):
		date, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
		secs, err2 := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
		if err != nil || err2 != nil {
			return urlBadSignature
		}
		expStr, sig = strconv.FormatInt(date.Unix()+secs, 10), q.Get("X-Amz-Signature")
	case strings.HasPrefix(p, b2Prefix):
		parts := strings.SplitN(q.Get("Authorization"), "_", 3)
		if len(parts) != 3 || parts[0] != "3" {
			return urlBadSignature
		}
		expStr, sig = parts[1], parts[2]
	case strings.HasPrefix(p, korePrefix):
		expStr, sig = q.Get("e"), q.Get("sig")
	default:
		expStr, sig = q.Get("Expires"), q.Get("Signature")
	}
	expires, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil || sig == "" {
		return urlBadSignature
	}
	s.mu.Lock()
	gen := s.urlGen
	s.mu.Unlock()
	for g := gen; g >= 0; g-- {
		if hmac.Equal([]byte(sig), []byte(s.signature(g, p, expires))) {
			if g < gen || now.Unix() >= expires {
				return urlExpired
			}
			return urlValid
		}
	}
	return urlBadSignature
}

// ExpireURLs makes every signed URL minted so far invalid: the storage host
// answers 403 as for an expired URL. The vendors' status endpoints mint
// valid ones again.
func (s *Server) ExpireURLs() {
	s.mu.Lock()
	s.urlGen++
	s.mu.Unlock()
}

// redirectURL is a hop on the storage host that redirects (hops more times)
// to target, an absolute storage URL.
func (s *Server) redirectURL(hops int, target string) string {
	if hops <= 0 {
		return target
	}
	return s.storageURL + redirPrefix + strconv.Itoa(hops-1) + "?to=" + url.QueryEscape(target)
}
