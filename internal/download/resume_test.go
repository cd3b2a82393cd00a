package download

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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

// The SIGKILL test: a child process downloads, stops every connection at
// a given share of the file, waits until a state file covers what it has
// written (the checkpoints run while the parts do) and is killed; the next
// DownloadFile fetches only what the state file does not cover.

const killChildEnv = "EXPORTKIT_DOWNLOAD_KILL_CHILD"

// killChild downloads $URL to $PATH. At $EXPORTKIT_KILL_AT percent its
// progress callback stops (which holds every connection at its next
// chunk), waits for a state file covering what it had written, prints
// "at N" and blocks until the process is killed.
func killChild() int {
	checkpointEvery, progressEvery = 0, 0
	size, _ := strconv.ParseInt(os.Getenv("EXPORTKIT_KILL_SIZE"), 10, 64)
	at, _ := strconv.ParseInt(os.Getenv("EXPORTKIT_KILL_AT"), 10, 64)
	conns, _ := strconv.Atoi(os.Getenv("EXPORTKIT_KILL_CONNS"))
	path := os.Getenv("EXPORTKIT_KILL_PATH")
	cfg := Config{
		Client:      &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		Connections: conns,
		Checksums:   []Checksum{{"sha1", os.Getenv("EXPORTKIT_KILL_SHA1")}},
		Progress: func(done, total int64) {
			if done < total*at/100 {
				return
			}
			// A stream has read, not yet written, its last chunk.
			want := done - copyBufferSize
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
				if c := covered(StatePath(path)); c >= want {
					fmt.Printf("at %d\n", c)
					select {} // wait for the kill
				}
				runtime.Gosched()
			}
			fmt.Println("no state file")
			select {}
		},
	}
	loc := &Location{URL: os.Getenv(killChildEnv), Size: size}
	src := &Source{Key: "t:1", Known: loc, Locate: func(context.Context) (*Location, error) { return loc, nil }}
	_, err := File(context.Background(), cfg, src, path)
	fmt.Fprintln(os.Stderr, "child ended:", err)
	return 3
}

// covered is the bytes a state file says are done, -1 when there is none.
func covered(name string) int64 {
	b, err := os.ReadFile(name)
	if err != nil {
		return -1
	}
	var st state
	if json.Unmarshal(b, &st) != nil {
		return -1
	}
	var n int64
	for _, p := range st.Parts {
		n += p[2]
	}
	return n
}

// TestResumeAfterSIGKILL kills a download in parts and one over one
// stream at 10%, 49% and 95% of files of 4 MiB, 64 MiB and 1 GiB: the
// rerun fetches only what the last checkpoint did not cover, and the file
// is byte-identical. The files are generated as they are served (genData),
// and the output is compared by its hash, so that no 1 GiB is held in
// memory; each case's output is removed as it ends. The 1 GiB cases run
// without the race detector (see killSizes).
func TestResumeAfterSIGKILL(t *testing.T) {
	skipWithoutLocks(t)
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, size := range killSizes() {
		want := genSHA1(size)
		for _, conns := range []int{16, 1} {
			for _, at := range []int{10, 49, 95} {
				t.Run(fmt.Sprintf("%dMiB/%d connections/%d%%", size>>20, conns, at), func(t *testing.T) {
					s := newGenServer(t, size)
					if conns > 1 {
						// 32 KiB per millisecond and connection: each
						// connection has a chunk or two in hand when the
						// child stops.
						s.pace.Store(int64(time.Millisecond))
					}
					// A response whose range ends in the file's last 5%
					// keeps its last 16 KiB until the child is gone, so
					// that a part is still in flight at the kill even at
					// 95% of 4 MiB: a loaded machine's reads, which take
					// whatever the socket holds, could otherwise end every
					// part before the child stops. The parts ending earlier
					// go on, so the child reaches its share.
					s.setSpoil(func(_ int, r *http.Request) spoil {
						if rangeEnd(r, size) > size-size/20 {
							return spoil{holdTail: 16 << 10}
						}
						return spoil{}
					})
					path := filepath.Join(t.TempDir(), "out") // removed as the case ends
					began := time.Now()
					done := killAt(t, s, path, want, conns, at)
					assert.GreaterOrEqual(t, done, size*int64(at)/100-copyBufferSize)

					// The child's responses go on writing into its closed
					// connections until their writes fail: count from when
					// they all have ended.
					s.active.Wait()
					killed := time.Since(began)
					s.pace.Store(0) // the rerun at full speed, whole
					s.setSpoil(nil)
					var st state
					b, err := os.ReadFile(StatePath(path))
					require.NoError(t, err)
					require.NoError(t, json.Unmarshal(b, &st))
					// The kill lands while parts are in flight: some part
					// had written a share of its range.
					inFlight := 0
					for _, p := range st.Parts {
						if p[2] > 0 && p[2] < p[1]-p[0] {
							inFlight++
						}
					}
					assert.Positive(t, inFlight, "no part was in flight at the kill")
					before := s.served.Load()
					cfg := testConfig(t, func(c *Config) {
						c.Checksums = []Checksum{{"sha1", want}}
						c.Connections, c.PartSize = 16, 0
					})
					res, err := File(t.Context(), cfg, testSource(s, "t:1", nil), path)
					require.NoError(t, err)
					assert.Equal(t, want, fileSHA1(t, path), "output differs from the source")
					assert.True(t, res.Verified)
					assert.GreaterOrEqual(t, res.Reused, done, "what the last checkpoint covered is kept")
					fetched := s.served.Load() - before
					lacking := size - res.Reused
					splits := int64(res.Parts - len(st.Parts))
					t.Logf("killed after %v with %d parts in flight, rerun %v: reused %d, fetched %d beyond the %d lacking, %d splits",
						killed.Round(time.Millisecond), inFlight, (time.Since(began) - killed).Round(time.Millisecond),
						res.Reused, fetched-lacking, lacking, splits)
					assert.GreaterOrEqual(t, fetched, lacking)
					// A part cut short by a split may have had some of its
					// old range on the way (the sockets' buffers).
					assert.LessOrEqual(t, fetched, lacking+splits*splitSlack, "only the missing ranges are fetched")
				})
			}
		}
	}
}

// fileSHA1 is the hex SHA-1 of a file, read as a stream.
func fileSHA1(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := sha1.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// splitSlack is what a rerun may receive, per split, beyond the bytes it
// lacks: the bytes on their way to a part when a split cut it short
// (loopback's socket buffers are a few MiB).
const splitSlack = 4 << 20

// killAt runs the child against s until it stops at pct percent, kills
// it, and returns the bytes its last state file covered.
func killAt(t *testing.T, s *fileServer, path, sum string, conns, pct int) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+s.URL+"/f?sig=secret", "EXPORTKIT_KILL_PATH="+path,
		"EXPORTKIT_KILL_SIZE="+strconv.FormatInt(s.size, 10), "EXPORTKIT_KILL_SHA1="+sum,
		"EXPORTKIT_KILL_AT="+strconv.Itoa(pct), "EXPORTKIT_KILL_CONNS="+strconv.Itoa(conns))
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
	case <-time.After(60 * time.Second):
	}
	n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(l, "at ")), 10, 64)
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	if !strings.HasPrefix(l, "at ") || err != nil {
		t.Fatalf("the child never stopped at %d%%: %q %s", pct, l, stderr.String())
	}
	require.FileExists(t, StatePath(path))
	return n
}

// rangeEnd is the end (exclusive) of the range r asks for of a file of
// size bytes: size without a Range or with an open one.
func rangeEnd(r *http.Request, size int64) int64 {
	_, b, _ := strings.Cut(strings.TrimPrefix(r.Header.Get("Range"), "bytes="), "-")
	if e, err := strconv.ParseInt(b, 10, 64); err == nil {
		return min(e+1, size)
	}
	return size
}

// skipWithoutLocks skips where a partial file is created exclusively (no
// advisory locks), so that an earlier run's is never taken over.
func skipWithoutLocks(t *testing.T) {
	if !renameOpenFiles {
		t.Skip("no advisory locks here: an earlier partial file is not taken over")
	}
}
