package exportkit_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

// The credentials the fake vendor API expects. None may ever reach storage.
const (
	brainbaseKey = "bb-secret-key-0001"
	memsolusKey  = "msk_test_secret_0002"
	orbitToken   = "orbit.jwt.secret0003"
	koreToken    = "kore.jwt.secret0004"
	signature    = "SIGNATURE-SECRET-0005"
)

var secrets = []string{brainbaseKey, memsolusKey, orbitToken, koreToken, signature}

// credentialHeaders are the header names a vendor credential travels in.
var credentialHeaders = []string{"X-Api-Key", "Authorization", "Auth", "Cookie"}

// testData returns n deterministic, non-repeating-looking bytes.
func testData(n int) []byte {
	b := make([]byte, n)
	var x uint32 = 2463534242
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// fault is what the fake storage does to one response.
type fault struct {
	status int   // answer with this status and no body
	cutAt  int64 // abort the connection once the file offset reaches this (0: never)
	stall  int64 // stop sending at this file offset until the client goes away (0: never)
}

// recorded is one request as the fake storage saw it.
type recorded struct {
	path   string
	query  url.Values
	header http.Header
}

// fakeStorage serves one file like S3 or B2 would: Range, If-Match and
// If-Range through http.ServeContent, with faults injected per request.
type fakeStorage struct {
	mu          sync.Mutex
	data        []byte
	etag        string
	modTime     time.Time
	ignoreRange bool              // answer every request with the whole file
	header      http.Header       // extra response headers
	faults      map[int]fault     // by request index, from 0
	faultFor    func(int) fault   // or computed
	redirects   map[string]string // path → Location
	requireSig  string            // when set, the sig query parameter must equal it, else 403
	reqs        []recorded
	served      int64 // body bytes written
}

func newFakeStorage(data []byte) *fakeStorage {
	return &fakeStorage{
		data:    data,
		etag:    `"v1"`,
		modTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		faults:  map[int]fault{},
	}
}

func (s *fakeStorage) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

func (s *fakeStorage) servedBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served
}

func (s *fakeStorage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := len(s.reqs)
	s.reqs = append(s.reqs, recorded{path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone()})
	sig := s.requireSig
	f := s.faults[i]
	if s.faultFor != nil {
		f = s.faultFor(i)
	}
	data, etag, mod, ignore := s.data, s.etag, s.modTime, s.ignoreRange
	loc, redirect := s.redirects[r.URL.Path]
	for k, v := range s.header {
		w.Header()[k] = v
	}
	s.mu.Unlock()

	if redirect {
		http.Redirect(w, r, loc, http.StatusFound)
		return
	}
	if sig != "" && r.URL.Query().Get("sig") != sig {
		http.Error(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", http.StatusForbidden)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	start := int64(0)
	if ignore {
		r.Header.Del("Range")
		r.Header.Del("If-Range")
		r.Header.Del("If-Match")
	} else if rg := r.Header.Get("Range"); rg != "" {
		start, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
	}
	w.Header().Set("ETag", etag)
	cw := &faultWriter{w: w, s: s, off: start, f: f, ctx: r.Context()}
	http.ServeContent(cw, r, "", mod, bytes.NewReader(data))
}

// faultWriter writes a response body, cutting or stalling it at a file
// offset.
type faultWriter struct {
	w   http.ResponseWriter
	s   *fakeStorage
	off int64
	f   fault
	ctx context.Context
}

func (fw *faultWriter) Header() http.Header { return fw.w.Header() }
func (fw *faultWriter) WriteHeader(c int)   { fw.w.WriteHeader(c) }

func (fw *faultWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := len(p)
		var stop func()
		if fw.f.cutAt > 0 && fw.off+int64(n) >= fw.f.cutAt {
			n = int(max(fw.f.cutAt-fw.off, 0))
			stop = func() { panic(http.ErrAbortHandler) }
		} else if fw.f.stall > 0 && fw.off+int64(n) >= fw.f.stall {
			n = int(max(fw.f.stall-fw.off, 0))
			stop = func() {
				<-fw.ctx.Done()
				panic(http.ErrAbortHandler)
			}
		}
		m, err := fw.w.Write(p[:n])
		written += m
		fw.off += int64(m)
		fw.s.mu.Lock()
		fw.s.served += int64(m)
		fw.s.mu.Unlock()
		if err != nil {
			return written, err
		}
		if stop != nil {
			if fl, ok := fw.w.(http.Flusher); ok {
				fl.Flush()
			}
			stop()
		}
		p = p[n:]
	}
	return written, nil
}

func (fw *faultWriter) Flush() {
	if fl, ok := fw.w.(http.Flusher); ok {
		fl.Flush()
	}
}

// vendorAPI answers the status and download endpoints of all four vendors,
// checking their credentials, with download URLs from url (called per
// request, so that a URL can be refreshed).
type vendorAPI struct {
	t        *testing.T
	mu       sync.Mutex
	url      func() string
	size     int64  // reported size, -1 to omit
	sha1     string // Orbit contentSha1
	fileName string // Orbit fileName
	memsolus http.Handler
	calls    map[string]int
}

func (a *vendorAPI) count(vendor string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[vendor]
}

func (a *vendorAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	if a.calls == nil {
		a.calls = map[string]int{}
	}
	u, size := a.url(), a.size
	a.mu.Unlock()
	var sizeJSON any
	if size >= 0 {
		sizeJSON = size
	}
	reply := func(vendor string, ok bool, v any) {
		a.mu.Lock()
		a.calls[vendor]++
		a.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/team/exports/"):
		reply("brainbase", r.Header.Get("x-api-key") == brainbaseKey, map[string]any{
			"id": strings.TrimPrefix(p, "/api/team/exports/"), "status": "COMPLETED", "format": "CSV",
			"downloadUrl": u, "fileSizeBytes": sizeJSON, "createdAt": time.Now()})
	case strings.HasPrefix(p, "/v1/exports/") && strings.HasSuffix(p, "/download"):
		a.mu.Lock()
		a.calls["memsolus"]++
		a.mu.Unlock()
		if r.Header.Get("X-Api-Key") != memsolusKey {
			http.Error(w, `{"error":"UNAUTHORIZED"}`, http.StatusUnauthorized)
			return
		}
		if a.memsolus != nil {
			a.memsolus.ServeHTTP(w, r)
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
	case strings.HasPrefix(p, "/v1/intent/audiences/"):
		a.mu.Lock()
		sum, name := a.sha1, a.fileName
		a.mu.Unlock()
		reply("orbit", r.Header.Get("Authorization") == "Bearer "+orbitToken, map[string]any{
			"data": map[string]any{
				"export": map[string]any{"id": "e1", "audienceId": "a1", "runId": "r1", "status": "completed",
					"byteSize": sizeJSON, "contentSha1": sum, "fileName": name, "exportType": "csv"},
				"downloadUrl": u,
			},
			"meta": map[string]any{"request_id": "req-1"},
		})
	case strings.HasPrefix(p, "/api/public/bot/"):
		fs := any(nil)
		if size >= 0 {
			fs = strconv.FormatInt(size, 10)
		}
		reply("kore", r.Header.Get("auth") == koreToken, map[string]any{
			"_id": "ber-1", "botId": "st-1", "status": "success", "downloadURL": u, "fileSize": fs})
	default:
		http.NotFound(w, r)
	}
}

// newLoopbackClient returns a client whose four vendor APIs are api.
func newLoopbackClient(t *testing.T, apiURL string, opts ...exportkit.Option) *exportkit.Client {
	t.Helper()
	base := []exportkit.Option{
		exportkit.WithBrainbaseAPIKey(brainbaseKey),
		exportkit.WithMemsolusAPIKey(memsolusKey),
		exportkit.WithOrbitBearerToken(orbitToken),
		exportkit.WithKoreToken(koreToken),
		exportkit.WithRetry(-1, 0, 0),
	}
	for _, v := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Memsolus, exportkit.Orbit, exportkit.Kore} {
		base = append(base, exportkit.WithBaseURL(v, apiURL))
	}
	c, err := exportkit.NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return c
}

// env is a fake vendor API and a fake storage host on loopback.
type env struct {
	storage    *fakeStorage
	storageSrv *httptest.Server
	api        *vendorAPI
	apiSrv     *httptest.Server
	client     *exportkit.Client
}

// newEnv serves data from a fake storage whose URL every vendor hands out,
// signed with sig=<signature>.
func newEnv(t *testing.T, data []byte, opts ...exportkit.Option) *env {
	t.Helper()
	e := &env{storage: newFakeStorage(data)}
	e.storageSrv = httptest.NewServer(e.storage)
	t.Cleanup(e.storageSrv.Close)
	e.api = &vendorAPI{t: t, size: int64(len(data)), url: func() string {
		return e.storageSrv.URL + "/bucket/file.csv?X-Amz-Signature=" + signature + "&sig=1"
	}}
	e.apiSrv = httptest.NewServer(e.api)
	t.Cleanup(e.apiSrv.Close)
	e.client = newLoopbackClient(t, e.apiSrv.URL, opts...)
	return e
}

// vendorDownload downloads the export of vendor v with the service method.
func vendorDownload(ctx context.Context, c *exportkit.Client, v exportkit.Vendor, w io.Writer, opts ...exportkit.DownloadOption) (*exportkit.DownloadResult, error) {
	switch v {
	case exportkit.Brainbase:
		return c.Exports.Download(ctx, "ex1", w, opts...)
	case exportkit.Memsolus:
		return c.Memories.Download(ctx, "mem1", w, opts...)
	case exportkit.Orbit:
		return c.Audiences.Download(ctx, exportkit.ExportRef{AudienceID: "a1", RunID: "r1", ExportID: "e1"}, w, opts...)
	case exportkit.Kore:
		return c.Bots.Download(ctx, "st-1", w, opts...)
	}
	return nil, errors.New("unknown vendor")
}

// assertNoCredential fails when any request carried a credential header or
// any secret anywhere in its headers.
func assertNoCredential(t *testing.T, reqs []recorded) {
	t.Helper()
	require.NotEmpty(t, reqs)
	for i, r := range reqs {
		for _, h := range credentialHeaders {
			require.Empty(t, r.header.Values(h), "request %d to %s carried %s", i, r.path, h)
		}
		for k, vs := range r.header {
			for _, v := range vs {
				for _, s := range secrets[:4] {
					require.NotContains(t, v, s, "request %d header %s", i, k)
				}
			}
		}
	}
}

// assertNoSecret fails when s holds a credential or a URL signature.
func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, sec := range secrets {
		require.NotContains(t, s, sec)
	}
}
