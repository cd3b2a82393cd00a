package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The Versity S3 gateway: the real S3 peer of the s3dest tests and of
// s3bench (bash .ci/versitygw.sh install installs it).

// Test credentials of a gateway started here: fixed values for a process
// on 127.0.0.1 that lives as long as a test, not secrets.
const (
	VersityAccessKey = "exportkit-test-access"
	VersitySecretKey = "exportkit-test-secret-not-a-secret"
)

// VersityGWPath returns the versitygw binary on PATH or in GOPATH/bin, or
// "".
func VersityGWPath() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if p := filepath.Join(gopath, "bin", "versitygw"); gopath != "" && isExecutable(p) {
		return p
	}
	return ""
}

// VersityGW is a versitygw process with the posix backend, on 127.0.0.1.
type VersityGW struct {
	Endpoint string // http://127.0.0.1:PORT
	Root     string // the posix backend's directory: one directory per bucket

	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// StartVersityGW starts a gateway storing under dir/root, with
// VersityAccessKey and VersitySecretKey as its root account.
func StartVersityGW(ctx context.Context, dir string) (*VersityGW, error) {
	bin := VersityGWPath()
	if bin == "" {
		return nil, errors.New("versitygw not found: install it with bash .ci/versitygw.sh install")
	}
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		g := &VersityGW{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Root: root,
			done: make(chan struct{}), log: filepath.Join(dir, "versitygw.log")}
		logf, err := os.Create(g.log)
		if err != nil {
			return nil, err
		}
		g.cmd = exec.CommandContext(ctx, bin, "--access", VersityAccessKey, "--secret", VersitySecretKey,
			"--port", "127.0.0.1:"+strconv.Itoa(port), "--quiet", "posix", root)
		g.cmd.Stdout, g.cmd.Stderr = logf, logf
		g.cmd.WaitDelay = 5 * time.Second
		if err := g.cmd.Start(); err != nil {
			logf.Close()
			return nil, fmt.Errorf("start versitygw: %w", err)
		}
		go func() {
			g.cmd.Wait()
			logf.Close()
			close(g.done)
		}()
		if err := waitListening(ctx, "127.0.0.1:"+strconv.Itoa(port), g.done, 20*time.Second); err != nil {
			g.Stop()
			lastErr = fmt.Errorf("versitygw: %w: %s", err, tail(g.log, 2000))
			continue
		}
		return g, nil
	}
	return nil, lastErr
}

// Stop ends the gateway and waits for it.
func (g *VersityGW) Stop() { stopProcess(g.cmd.Process, g.done, syscall.SIGTERM) }
