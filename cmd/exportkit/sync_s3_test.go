//go:build unix

package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit/exporttest"
	"github.com/exportkit/exportkit/internal/bench"
)

// partProxy stands in front of the gateway and sees the multipart
// requests: the uploads created and the parts uploaded (with their upload
// id). Armed with hold, it passes on the first hold parts only, keeps
// every later one waiting until its client is gone, and calls full once
// the held-back parts' predecessors have all been answered.
type partProxy struct {
	URL     string
	mu      sync.Mutex
	creates int
	parts   int
	answers int
	uploads map[string]bool // upload ids of the parts seen
	hold    int             // 0: pass everything on
	full    func()
	// vendorKey is set when a request to the store carried a vendor's
	// credential.
	vendorKey bool
}

func newPartProxy(t *testing.T, endpoint string) *partProxy {
	u, err := url.Parse(endpoint)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	rp.Transport = tr
	p := &partProxy{uploads: map[string]bool{}}
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, vs := range r.Header {
			for _, v := range vs {
				for _, k := range []string{exporttest.OrbitAPIKey, exporttest.BrainbaseAPIKey, exporttest.MemsolusAPIKey, exporttest.KoreClientSecret} {
					if strings.Contains(v, k) {
						p.mu.Lock()
						p.vendorKey = true
						p.mu.Unlock()
					}
				}
			}
		}
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			p.mu.Lock()
			p.creates++
			p.mu.Unlock()
		case r.Method == http.MethodPut && q.Get("uploadId") != "" && q.Get("partNumber") != "":
			p.mu.Lock()
			p.parts++
			p.uploads[q.Get("uploadId")] = true
			held := p.hold > 0 && p.parts > p.hold
			p.mu.Unlock()
			if held {
				// The client is killed with the request in flight: its
				// body ends, then the connection.
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-stop:
				}
				return
			}
			rp.ServeHTTP(w, r)
			p.mu.Lock()
			p.answers++
			var full func()
			if p.hold > 0 && p.answers == p.hold {
				full = p.full
			}
			p.mu.Unlock()
			if full != nil {
				full()
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(stop); srv.Close(); tr.CloseIdleConnections() })
	p.URL = srv.URL
	return p
}

func (p *partProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.creates, p.parts, p.answers, p.hold, p.full = 0, 0, 0, 0, nil
	p.uploads = map[string]bool{}
}

// s3Manifest is a manifest whose dir is s3://bucket/prefix at endpoint.
func s3Manifest(t *testing.T, bucket, endpoint, jobs string) string {
	q := "?endpoint=" + url.QueryEscape(endpoint) + "&use_path_style=true&disable_https=true&region=us-east-1"
	return writeManifest(t, "dir: s3://"+bucket+"/nightly"+q+"\njobs:\n"+jobs)
}

// objectSHA1 reads an object and returns its size and SHA-1.
func objectSHA1(t *testing.T, c *s3.Client, bucket, key string) (int64, string) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	require.NoError(t, err, key)
	defer out.Body.Close()
	h := sha1.New()
	n, err := io.Copy(h, out.Body)
	require.NoError(t, err)
	return n, hex.EncodeToString(h.Sum(nil))
}

// noAWSAtTheVendor fails when a request to the fake (its API or its
// storage host) carried an AWS signature or access key.
func noAWSAtTheVendor(t *testing.T, srv *exporttest.Server) {
	t.Helper()
	for _, r := range srv.Requests() {
		for name, vs := range r.Header {
			for _, v := range vs {
				require.NotContains(t, v, "AWS4-HMAC-SHA256", "%s %s: %s", r.Method, r.Path, name)
				require.NotContains(t, v, bench.VersityAccessKey, "%s %s: %s", r.Method, r.Path, name)
			}
		}
	}
}

// requireVendorFile checks that the fake holds an export of vendor whose
// file has this size and SHA-1: the object is byte-identical to it.
func requireVendorFile(t *testing.T, srv *exporttest.Server, vendor string, size int64, sum string) {
	t.Helper()
	for _, x := range srv.Exports() {
		if string(x.Vendor) == vendor && x.SHA1 == sum && x.Size == size {
			return
		}
	}
	t.Errorf("%s: no export at the vendor has %d bytes with SHA-1 %s", vendor, size, sum)
}

func openUploads(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	out, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	require.NoError(t, err)
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// exportkit sync with dir: s3://BUCKET/PREFIX, against the Versity
// gateway: every vendor's file lands as the object PREFIX/JOB/FILE,
// byte-identical, verified, with status printing its s3:// URL; a second
// sync does nothing; no multipart upload is left open; no secret is
// printed; no resume state goes to a file.
func TestSyncToS3(t *testing.T) {
	env, endpoint, bucket, c := gatewayEnv(t)
	srv := exporttest.NewServer(exporttest.ReadyAfter(0), exporttest.FileSize(12<<20+5)) // two parts each
	defer srv.Close()
	env = append(env, syncEnv(srv)...)
	mf := s3Manifest(t, bucket, endpoint, strings.SplitN(syncManifest, "jobs:\n", 2)[1])

	r := runWith(t, env, "sync", "-f", mf, "--json").must(t, exitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4, r.stdout)
	for _, l := range lines {
		var res syncRun
		require.NoError(t, json.Unmarshal([]byte(l), &res))
		prefix := "s3://" + bucket + "/nightly/" + res.Job + "/"
		require.True(t, strings.HasPrefix(res.File, prefix), "file %q", res.File)
		require.Equal(t, "done", res.State)
		require.NotNil(t, res.Size)
		require.EqualValues(t, 12<<20+5, *res.Size)
		n, sum := objectSHA1(t, c, bucket, strings.TrimPrefix(res.File, "s3://"+bucket+"/"))
		assert.EqualValues(t, *res.Size, n)
		assert.Equal(t, res.SHA1, sum, res.Job)
		requireVendorFile(t, srv, res.Vendor, n, sum)
	}
	for _, text := range []string{r.stdout, r.stderr} {
		assert.NotContains(t, text, bench.VersitySecretKey)
		assert.NotContains(t, text, "endpoint=", "no query in what sync prints")
	}
	assert.Empty(t, openUploads(t, c, bucket))
	noAWSAtTheVendor(t, srv)

	sent := len(srv.Requests())
	r = runWith(t, env, "sync", "-f", mf, "--json").must(t, exitOK)
	assert.Empty(t, strings.TrimSpace(r.stdout), "nothing is due")
	assert.Equal(t, sent, len(srv.Requests()), "nothing sent to the vendors")

	r = runWith(t, env, "sync", "status", "-f", mf, "--json").must(t, exitOK)
	var st struct {
		Jobs []struct {
			Name string
			Runs []syncRun
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
	require.Len(t, st.Jobs, 4)
	for _, j := range st.Jobs {
		require.Len(t, j.Runs, 1)
		assert.True(t, strings.HasPrefix(j.Runs[0].File, "s3://"+bucket+"/nightly/"+j.Name+"/"), j.Runs[0].File)
	}
	assert.NoDirExists(t, stateDir(env), "the resume state is in the sync store, not in files")

	// The store lost: the next sync finds each run's object in the bucket,
	// its own (exportkit's metadata), and records the run done from it,
	// read back; nothing is created at a vendor or uploaded again.
	require.NoError(t, os.Remove(filepath.Join(filepath.Dir(mf), "exportkit.db")))
	exports := len(srv.Exports())
	r = runWith(t, env, "sync", "-f", mf, "--json").must(t, exitOK)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4, r.stdout)
	for _, l := range lines {
		var res syncRun
		require.NoError(t, json.Unmarshal([]byte(l), &res))
		require.Equal(t, "done", res.State, res.Job)
		n, sum := objectSHA1(t, c, bucket, strings.TrimPrefix(res.File, "s3://"+bucket+"/"))
		require.NotNil(t, res.Size)
		assert.EqualValues(t, n, *res.Size, res.Job)
		assert.Equal(t, sum, res.SHA1, res.Job)
	}
	assert.Equal(t, exports, len(srv.Exports()), "no export created again")
	assert.Empty(t, openUploads(t, c, bucket))
}

// stateDir is where download -o s3:// would keep state files in env.
func stateDir(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "EXPORTKIT_STATE_DIR="); ok {
			return filepath.Join(v, "s3")
		}
	}
	return ""
}

// exportkit sync into S3 killed with SIGKILL while the parts of its
// multipart upload are on their way (two of five stored, the third held
// in flight): the next sync takes the upload up from the resume state in
// the sync store (the same upload, no new one), uploads only the three
// missing parts, and publishes an object byte-identical to the vendor's,
// with nothing created twice at the vendor and no upload left open.
func TestSyncToS3KilledMidUpload(t *testing.T) {
	env, endpoint, bucket, c := gatewayEnv(t)
	const size, parts = 40 << 20, 5 // 8 MiB parts
	srv := exporttest.NewServer(exporttest.ReadyAfter(0), exporttest.FileSize(size))
	defer srv.Close()
	env = append(env, syncEnv(srv)...)
	px := newPartProxy(t, endpoint)
	mf := s3Manifest(t, bucket, px.URL, "  - name: logs\n    vendor: brainbase\n    format: CSV\n")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := command(ctx, env, "sync", "-f", mf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	killed := make(chan struct{})
	proc := make(chan *os.Process, 1)
	px.mu.Lock()
	px.hold = 2
	px.full = func() {
		_ = (<-proc).Kill()
		close(killed)
	}
	px.mu.Unlock()
	require.NoError(t, cmd.Start())
	proc <- cmd.Process
	err := cmd.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("sync ended before it was killed: %v\n%s", err, out.String())
	}
	px.mu.Lock()
	first := px.uploads
	require.Equal(t, 1, px.creates, "one upload")
	px.mu.Unlock()
	require.Len(t, first, 1)
	require.Len(t, openUploads(t, c, bucket), 1, "the killed sync's upload is open")
	r := runWith(t, env, "sync", "status", "-f", mf).must(t, exitOK)
	require.Contains(t, r.stdout, "downloading", "the run stays where the kill left it")

	px.reset()
	r = runWith(t, env, "sync", "-f", mf, "--json").must(t, exitOK)
	var res syncRun
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &res), r.stdout)
	require.Equal(t, "done", res.State)
	px.mu.Lock()
	assert.Equal(t, 0, px.creates, "no new upload: the stored one is gone on with")
	assert.Equal(t, parts-2, px.parts, "only the missing parts went up")
	assert.Equal(t, first, px.uploads, "the same upload")
	px.mu.Unlock()
	n, sum := objectSHA1(t, c, bucket, strings.TrimPrefix(res.File, "s3://"+bucket+"/"))
	assert.EqualValues(t, size, n)
	assert.Equal(t, res.SHA1, sum)
	requireVendorFile(t, srv, "brainbase", n, sum)
	assert.Empty(t, openUploads(t, c, bucket))
	creates := 0
	for _, q := range srv.Requests() {
		if q.Method == http.MethodPost && !q.Storage {
			creates++
		}
	}
	assert.Equal(t, 1, creates, "one export at the vendor")
	noAWSAtTheVendor(t, srv)
	px.mu.Lock()
	assert.False(t, px.vendorKey, "a vendor credential reached the store")
	px.mu.Unlock()
	assert.NoDirExists(t, stateDir(env))
}
