package bench

// Toxiproxy shapes the link of the capped-link benchmark: it sits between
// the clients and nginx and adds latency and a bandwidth cap to every
// connection on its own, as a signed-URL storage host caps each
// connection. It is configured through its HTTP API with net/http.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ToxiproxyVersion is the Toxiproxy the benchmark is written against;
// .ci/bench-tools.sh installs it.
const ToxiproxyVersion = "v2.12.0"

// ToxiproxyPath returns the toxiproxy-server binary: on PATH, or where
// .ci/bench-tools.sh installs it, or "" when there is none.
func ToxiproxyPath() string {
	if p, err := exec.LookPath("toxiproxy-server"); err == nil {
		return p
	}
	if p := filepath.Join(ToolsDir(), "toxiproxy-server"); isExecutable(p) {
		return p
	}
	return ""
}

// ToolsDir is where .ci/bench-tools.sh installs the tools that are not
// Debian packages: $EXPORTKIT_BENCH_TOOLS, or ~/.cache/exportkit-bench/bin.
func ToolsDir() string {
	if d := os.Getenv("EXPORTKIT_BENCH_TOOLS"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "exportkit-bench", "bin")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Toxiproxy is a toxiproxy-server process on 127.0.0.1, started by
// [StartToxiproxy] and stopped by Stop.
type Toxiproxy struct {
	API string // http://127.0.0.1:PORT, its HTTP API

	cmd  *exec.Cmd
	done chan struct{}
	hc   *http.Client
}

// StartToxiproxy starts bin on a free loopback port, its log in logPath,
// and returns once its API answers.
func StartToxiproxy(ctx context.Context, bin, logPath string) (*Toxiproxy, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.CommandContext(ctx, bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start toxiproxy: %w", err)
	}
	t := &Toxiproxy{API: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{}),
		hc: &http.Client{Timeout: 10 * time.Second}}
	go func() {
		cmd.Wait()
		close(t.done)
	}()
	if err := waitListening(ctx, "127.0.0.1:"+strconv.Itoa(port), t.done, 10*time.Second); err != nil {
		t.Stop()
		return nil, fmt.Errorf("toxiproxy did not start: %w; %s", err, tail(logPath, 400))
	}
	return t, nil
}

// Stop stops toxiproxy (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (t *Toxiproxy) Stop() { stopProcess(t.cmd.Process, t.done, syscall.SIGTERM) }

// Link is the shape of a capped link: latency added to every chunk the
// server sends, and a bandwidth cap for each connection on its own.
type Link struct {
	Latency     time.Duration // downstream, per chunk
	BytesPerSec int64         // per connection; Toxiproxy counts in units of 1,000 bytes/s
}

func (l Link) String() string {
	return fmt.Sprintf("%v latency, %g MB/s per connection", l.Latency, float64(l.BytesPerSec)/1e6)
}

// Proxy creates a proxy named name in front of upstream (host:port) with
// link's toxics, and returns the address it listens on (127.0.0.1:PORT).
func (t *Toxiproxy) Proxy(ctx context.Context, name, upstream string, link Link) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	if err := t.post(ctx, "/proxies", map[string]any{"name": name, "listen": listen, "upstream": upstream, "enabled": true}); err != nil {
		return "", err
	}
	if link.Latency > 0 {
		if err := t.post(ctx, "/proxies/"+name+"/toxics", map[string]any{
			"name": "latency", "type": "latency", "stream": "downstream", "toxicity": 1.0,
			"attributes": map[string]any{"latency": link.Latency.Milliseconds(), "jitter": 0},
		}); err != nil {
			return "", err
		}
	}
	if link.BytesPerSec > 0 {
		if err := t.post(ctx, "/proxies/"+name+"/toxics", map[string]any{
			"name": "bandwidth", "type": "bandwidth", "stream": "downstream", "toxicity": 1.0,
			"attributes": map[string]any{"rate": link.BytesPerSec / 1000},
		}); err != nil {
			return "", err
		}
	}
	return listen, nil
}

func (t *Toxiproxy) post(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.API+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("toxiproxy: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("toxiproxy: POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
