package s3dest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/exportkit/exportkit/s3dest"
)

// store is one test's bucket on the gateway.
type store struct {
	t        *testing.T
	bucket   string
	endpoint string // the gateway, or the counting proxy in front of it
	s3       *s3.Client
	hc       *http.Client
	parts    atomic.Int64 // UploadPart requests the proxy saw
	// afterPart, when set, is called as the proxy has passed on the
	// answer to the nth UploadPart.
	afterPart atomic.Pointer[func(n int64)]
	// vendorKey is set when a request to the store carried a vendor key.
	vendorKey atomic.Bool
	creates   atomic.Int64 // CreateMultipartUpload requests the proxy saw
	// denyListUploads makes the proxy refuse ListMultipartUploads, as a
	// store does to credentials without s3:ListBucketMultipartUploads.
	denyListUploads atomic.Bool
	// createHook, when set, is given the gateway's answer to each
	// CreateMultipartUpload, to pass on (passOn), cut or hold.
	createHook atomic.Pointer[func(w http.ResponseWriter, r *http.Request, answer *httptest.ResponseRecorder)]
}

// newStore creates a bucket of its own on the gateway. The tests skip
// without a gateway, except under CI=true, where they fail.
func newStore(t *testing.T) *store {
	t.Helper()
	if gateway.endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no S3 gateway, and CI=true: %s", gateway.why)
		}
		t.Skip("no S3 gateway: " + gateway.why)
	}
	var b [6]byte
	rand.Read(b[:])
	st := &store{t: t, bucket: "ek-" + hex.EncodeToString(b[:]), endpoint: gateway.endpoint}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	st.hc = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	st.s3 = s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(gateway.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(gateway.access, gateway.secret, ""),
		HTTPClient:  st.hc,
	})
	_, err := st.s3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &st.bucket})
	require.NoError(t, err)
	return st
}

// countParts puts a proxy in front of the gateway that counts UploadPart
// and CreateMultipartUpload requests: what the gateway was asked to do,
// seen on the wire.
func (st *store) countParts() {
	u, _ := url.Parse(gateway.endpoint)
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	rp.Transport = tr
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, vs := range r.Header {
			for _, v := range vs {
				for _, k := range []string{exporttest.OrbitAPIKey, exporttest.BrainbaseAPIKey, exporttest.MemsolusAPIKey} {
					if strings.Contains(v, k) {
						st.vendorKey.Store(true)
					}
				}
			}
		}
		q := r.URL.Query()
		if r.Method == http.MethodGet && q.Has("uploads") && st.denyListUploads.Load() {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			return
		}
		if r.Method == http.MethodPost && q.Has("uploads") {
			st.creates.Add(1)
			if f := st.createHook.Load(); f != nil {
				answer := httptest.NewRecorder()
				rp.ServeHTTP(answer, r)
				(*f)(w, r, answer)
				return
			}
		}
		if !(r.Method == http.MethodPut && q.Get("uploadId") != "" && q.Get("partNumber") != "") {
			rp.ServeHTTP(w, r)
			return
		}
		n := st.parts.Add(1)
		rp.ServeHTTP(w, r)
		if f := st.afterPart.Load(); f != nil {
			(*f)(n)
		}
	}))
	st.t.Cleanup(func() { srv.Close(); tr.CloseIdleConnections() })
	st.endpoint = srv.URL
}

// onPart calls f after the nth UploadPart the proxy passed on.
func (st *store) onPart(n int64, f func()) {
	g := func(k int64) {
		if k == n {
			f()
		}
	}
	st.afterPart.Store(&g)
}

// onCreate sets the hook given each CreateMultipartUpload's answer.
func (st *store) onCreate(f func(w http.ResponseWriter, r *http.Request, answer *httptest.ResponseRecorder)) {
	st.createHook.Store(&f)
}

// passOn sends the gateway's answer on to the client.
func passOn(w http.ResponseWriter, answer *httptest.ResponseRecorder) {
	for k, vs := range answer.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(answer.Code)
	w.Write(answer.Body.Bytes())
}

// cut closes the client's connection without an answer: the gateway acted,
// the client never hears of it.
func cut(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	require.NoError(t, err)
	conn.Close()
}

// uploadID is the UploadId in a CreateMultipartUpload answer.
func uploadID(answer *httptest.ResponseRecorder) string {
	var out struct{ UploadId string }
	xml.Unmarshal(answer.Body.Bytes(), &out)
	return out.UploadId
}

// url is the s3:// URL of key in the bucket, pointing at the gateway.
func (st *store) url(key string) string {
	return "s3://" + st.bucket + "/" + key + "?endpoint=" + url.QueryEscape(st.endpoint) +
		"&region=us-east-1&use_path_style=true&disable_https=true"
}

// dest is the destination of key, with the gateway's test credentials.
func (st *store) dest(key string, opts ...s3dest.Option) *s3dest.Destination {
	st.t.Helper()
	opts = append([]s3dest.Option{
		s3dest.WithCredentials(staticCreds()),
		s3dest.WithHTTPClient(st.hc),
	}, opts...)
	d, err := s3dest.New(context.Background(), st.url(key), opts...)
	require.NoError(st.t, err)
	return d
}

// object reads an object back whole; nil when there is none.
func (st *store) object(key string) []byte {
	st.t.Helper()
	out, err := st.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &st.bucket, Key: &key})
	if err != nil {
		require.True(st.t, isNotFound(err), "get %s: %v", key, err)
		return nil
	}
	defer out.Body.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, out.Body)
	require.NoError(st.t, err)
	return buf.Bytes()
}

// sameObject compares an object with want without holding two copies of
// a large file in the test's memory at once.
func (st *store) sameObject(key string, want io.Reader, size int64) bool {
	st.t.Helper()
	out, err := st.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &st.bucket, Key: &key})
	require.NoError(st.t, err)
	defer out.Body.Close()
	require.Equal(st.t, size, aws.ToInt64(out.ContentLength))
	a, b := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(out.Body, a)
		m, _ := io.ReadFull(want, b[:max(n, 0)])
		if n != m || !bytes.Equal(a[:n], b[:m]) {
			return false
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			var one [1]byte
			k, _ := want.Read(one[:])
			return k == 0
		}
		require.NoError(st.t, err)
	}
}

// openUploads lists the multipart uploads open in the bucket.
func (st *store) openUploads() []string {
	st.t.Helper()
	out, err := st.s3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &st.bucket})
	require.NoError(st.t, err)
	var ids []string
	for _, u := range out.Uploads {
		ids = append(ids, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
	}
	return ids
}

func isNotFound(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// source is an exporttest server whose Orbit export (with its
// contentSha1) has size bytes.
type source struct {
	srv *exporttest.Server
	c   *exportkit.Client
	ref exporttest.Ref
}

func newSource(t *testing.T, size int64, opts ...exporttest.Option) *source {
	t.Helper()
	srv := exporttest.NewServer(append([]exporttest.Option{exporttest.FileSize(size)}, opts...)...)
	t.Cleanup(srv.Close)
	ref, err := srv.AddExport(exportkit.Orbit)
	require.NoError(t, err)
	return &source{srv: srv, c: srv.Client(), ref: ref}
}

func (s *source) export(t *testing.T) exportkit.Export {
	t.Helper()
	e, err := s.c.Audiences.GetExport(context.Background(), exportkit.ExportRef{AudienceID: s.ref.AudienceID, RunID: s.ref.RunID, ExportID: s.ref.ID})
	require.NoError(t, err)
	return e
}

func (s *source) reader(t *testing.T) (io.Reader, int64) {
	t.Helper()
	r, n, err := s.srv.FileReader(exportkit.Orbit, s.ref.ID)
	require.NoError(t, err)
	return r, n
}

// noSecret fails when text holds the gateway's secret key.
func noSecret(t *testing.T, text string) {
	t.Helper()
	require.False(t, gateway.secret != "" && strings.Contains(text, gateway.secret), "the secret key leaked: %s", text)
}

// staticCreds are the gateway's test credentials.
func staticCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(gateway.access, gateway.secret, "")
}

// credentialsStayHome checks that no vendor credential reached the store
// and no AWS credential reached the vendor or its storage host.
func credentialsStayHome(t *testing.T, st *store, src *source) {
	t.Helper()
	require.False(t, st.vendorKey.Load(), "a vendor key reached the store")
	for _, r := range src.srv.Requests() {
		for name, vs := range r.Header {
			for _, v := range vs {
				require.NotContains(t, v, "AWS4-HMAC-SHA256", "%s %s: %s", r.Method, r.Path, name)
				require.NotContains(t, v, gateway.access, "%s %s: %s", r.Method, r.Path, name)
			}
		}
		if r.Storage {
			require.Empty(t, r.Header.Get("X-Api-Key"), "a vendor key reached the storage host")
		}
	}
}
