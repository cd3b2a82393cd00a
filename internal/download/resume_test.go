package download

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sha1Of(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// interrupted leaves an interrupted DownloadFile at path: the server
// answers 404 from its sixth request on, which ends the download with the
// first parts done.
func interrupted(t *testing.T, s *fileServer, path string, cfg Config) {
	t.Helper()
	s.setSpoil(func(n int, r *http.Request) spoil {
		if n >= 6 {
			return spoil{status: http.StatusNotFound}
		}
		return spoil{}
	})
	_, err := File(t.Context(), cfg, testSource(s, "t:1", nil), path)
	require.Error(t, err)
	s.setSpoil(nil)
	require.FileExists(t, PartialPath(path))
	b, err := os.ReadFile(StatePath(path))
	require.NoError(t, err)
	// No URL, no signature: only the key, the size, the ETag, the ranges
	// and the hash state.
	assert.NotContains(t, string(b), "secret")
	assert.NotContains(t, string(b), "http")
	assert.NotContains(t, string(b), "sig")
}

// TestResume: a later DownloadFile goes on from the state file when it is
// intact and for the same file, and starts over otherwise; the bytes are
// right either way.
func TestResume(t *testing.T) {
	skipWithoutLocks(t)
	data := testData(testSize)
	for _, tc := range []struct {
		name   string
		spoil  func(t *testing.T, s *fileServer, path string)
		key    string
		noRes  bool
		reused bool
	}{
		{name: "intact", reused: true},
		{name: "truncated state", spoil: func(t *testing.T, s *fileServer, path string) {
			b, _ := os.ReadFile(StatePath(path))
			require.NoError(t, os.WriteFile(StatePath(path), b[:len(b)/2], 0o666))
		}},
		{name: "edited state", spoil: func(t *testing.T, s *fileServer, path string) {
			b, _ := os.ReadFile(StatePath(path))
			var st map[string]any
			require.NoError(t, json.Unmarshal(b, &st))
			st["size"] = testSize + 1
			b, _ = json.Marshal(st)
			require.NoError(t, os.WriteFile(StatePath(path), b, 0o666))
		}},
		{name: "state of another export", key: "t:2"},
		{name: "the ETag changed", spoil: func(t *testing.T, s *fileServer, path string) { s.setETag(`"v2"`) }},
		{name: "a shorter partial file", spoil: func(t *testing.T, s *fileServer, path string) {
			require.NoError(t, os.Truncate(PartialPath(path), 10))
		}},
		{name: "WithoutResume", noRes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFileServer(t, data)
			path := filepath.Join(t.TempDir(), "out")
			cfg := testConfig(t, func(c *Config) { c.Checksums = []Checksum{{"sha1", sha1Of(data)}} })
			interrupted(t, s, path, cfg)
			if tc.spoil != nil {
				tc.spoil(t, s, path)
			}
			key := "t:1"
			if tc.key != "" {
				key = tc.key
			}
			cfg.NoResume = tc.noRes
			before := s.served.Load()
			res, err := File(t.Context(), cfg, testSource(s, key, nil), path)
			require.NoError(t, err)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got), "output differs from the source")
			assert.True(t, res.Verified)
			assert.NoFileExists(t, PartialPath(path))
			assert.NoFileExists(t, StatePath(path))
			if tc.reused {
				assert.Positive(t, res.Reused)
				assert.Equal(t, int64(len(data))-res.Reused, s.served.Load()-before, "only the missing ranges are fetched")
			} else {
				assert.Zero(t, res.Reused)
			}
		})
	}
}

// Cancellation keeps the partial file and its state, returns at once, and
// leaves nothing at the path.
func TestFileCancelKeepsState(t *testing.T) {
	data := testData(testSize)
	s := newFileServer(t, data)
	stalled := make(chan struct{})
	s.setSpoil(func(n int, r *http.Request) spoil {
		if n == 3 {
			close(stalled)
			return spoil{stall: 1000}
		}
		return spoil{}
	})
	path := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(t.Context())
	var cancelled time.Time
	go func() {
		// A part stalls, and a first part is done and saved.
		<-stalled
		for _, err := os.Stat(StatePath(path)); err != nil; _, err = os.Stat(StatePath(path)) {
			time.Sleep(time.Millisecond)
		}
		cancelled = time.Now()
		cancel()
	}()
	_, err := File(ctx, testConfig(t), testSource(s, "t:1", nil), path)
	took := time.Since(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, took, 100*time.Millisecond)
	assert.NoFileExists(t, path)
	assert.FileExists(t, PartialPath(path))
	assert.FileExists(t, StatePath(path))
}

// The SIGKILL test: a child process downloads, says when it is half done
// and is killed; the next DownloadFile fetches only what is missing.

const killChildEnv = "EXPORTKIT_DOWNLOAD_KILL_CHILD"

// killChild downloads $URL to $PATH with a progress callback that prints
// "half" at 50% and then blocks until the process is killed.
func killChild() int {
	checkpointEvery = 0
	size, _ := strconv.ParseInt(os.Getenv("EXPORTKIT_KILL_SIZE"), 10, 64)
	said := false
	cfg := Config{
		Client:      &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		Connections: 4, PartSize: MinPartSize,
		Checksums: []Checksum{{"sha1", os.Getenv("EXPORTKIT_KILL_SHA1")}},
		Progress: func(done, total int64) {
			if done >= total/2 && !said {
				said = true
				fmt.Println("half")
				select {} // wait for the kill, holding every connection's next report
			}
		},
	}
	loc := &Location{URL: os.Getenv(killChildEnv), Size: size}
	src := &Source{Key: "t:1", Known: loc, Locate: func(context.Context) (*Location, error) { return loc, nil }}
	_, err := File(context.Background(), cfg, src, os.Getenv("EXPORTKIT_KILL_PATH"))
	fmt.Fprintln(os.Stderr, "child ended:", err)
	return 3
}

func TestResumeAfterSIGKILL(t *testing.T) {
	skipWithoutLocks(t)
	if testing.Short() {
		t.Skip("starts a process")
	}
	data := testData(8 << 20)
	s := newFileServer(t, data)
	// About 25 MB/s over four connections, so that the child's progress
	// reports (every 100 ms) see it half way before it is done.
	s.pace.Store(int64(5 * time.Millisecond))
	path := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+s.URL+"/f?sig=secret", "EXPORTKIT_KILL_PATH="+path,
		"EXPORTKIT_KILL_SIZE="+strconv.Itoa(len(data)), "EXPORTKIT_KILL_SHA1="+sha1Of(data))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
	}()
	var l string
	select {
	case l = <-line:
	case <-time.After(30 * time.Second):
	}
	if l != "half\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the child never got half way: %s", stderr.String())
	}
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	require.FileExists(t, StatePath(path))

	// The child's responses go on writing into its closed connections
	// until their writes fail: count from when they all have ended.
	s.pace.Store(0)
	s.active.Wait()
	before := s.served.Load()
	cfg := testConfig(t, func(c *Config) { c.Checksums = []Checksum{{"sha1", sha1Of(data)}} })
	res, err := File(t.Context(), cfg, testSource(s, "t:1", nil), path)
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "output differs from the source")
	assert.True(t, res.Verified)
	assert.GreaterOrEqual(t, res.Reused, int64(len(data))/4, "about half was done")
	assert.Less(t, res.Reused, int64(len(data)))
	assert.Equal(t, int64(len(data))-res.Reused, s.served.Load()-before, "only the missing ranges are fetched")
}

// skipWithoutLocks skips where a partial file is created exclusively (no
// advisory locks), so that an earlier run's is never taken over.
func skipWithoutLocks(t *testing.T) {
	if !renameOpenFiles {
		t.Skip("no advisory locks here: an earlier partial file is not taken over")
	}
}
