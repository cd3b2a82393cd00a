package bench

// A real nginx for the download measurements and the real-peer tests: it
// speaks Range, If-Match, If-Range and strong ETags as storage servers do,
// which a Go test server only imitates.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// NginxPath returns the nginx binary, or "" when none is installed. Debian
// puts it in /usr/sbin, which is not on every user's PATH.
func NginxPath() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if isExecutable(p) {
			return p
		}
	}
	return ""
}

// Nginx is an nginx process serving a directory on 127.0.0.1, started by
// [StartNginx] with a generated configuration and stopped by Stop.
//
// It serves Root at "/" with nginx's own strong ETag (its mtime and size
// in hex), Range, If-Match and If-Range, and sendfile. The same files are
// served under "/noetag/" without an ETag, so that a client has only
// Last-Modified (and so If-Range) to resume with. Every request is logged
// to AccessLog, one line each, which [Nginx.Requests] parses.
type Nginx struct {
	URL       string // http://127.0.0.1:PORT
	Root      string // the directory served
	AccessLog string

	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // of the process, valid once done is closed
}

// nginxConfig is the whole configuration: one process (master_process off,
// so that it runs as whoever starts it and needs no user to switch to),
// every path inside the temporary directory.
const nginxConfig = `daemon off;
master_process off;
worker_processes 1;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log warn;
events { worker_connections 512; }
http {
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    client_body_temp_path {{dir}}/body;
    proxy_temp_path {{dir}}/proxy;
    fastcgi_temp_path {{dir}}/fastcgi;
    uwsgi_temp_path {{dir}}/uwsgi;
    scgi_temp_path {{dir}}/scgi;
    log_format bench '$request_method|$uri|$status|$http_range|$http_if_match|$http_if_range|$body_bytes_sent|$sent_http_etag';
    access_log {{dir}}/access.log bench;
    server {
        listen 127.0.0.1:{{port}};
        root {{root}};
        etag on;
        location /noetag/ {
            alias {{root}}/;
            etag off;
        }
    }
}
`

// StartNginx starts nginx serving root on a free loopback port, its
// configuration, logs and temporary files in dir, and returns once it
// accepts connections. Stop it with Stop; cancelling ctx kills it too.
func StartNginx(ctx context.Context, dir, root string) (*Nginx, error) {
	bin := NginxPath()
	if bin == "" {
		return nil, errors.New("nginx not found: install it with bash .ci/bench-tools.sh nginx")
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// The port is found free and then handed to nginx, so another process
	// can take it in between: try a few.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		n, err := startNginx(ctx, bin, dir, root, port)
		if err == nil {
			return n, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startNginx(ctx context.Context, bin, dir, root string, port int) (*Nginx, error) {
	conf := strings.NewReplacer("{{dir}}", dir, "{{root}}", root, "{{port}}", strconv.Itoa(port)).Replace(nginxConfig)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	access := filepath.Join(dir, "access.log")
	os.Remove(access)
	errLog := filepath.Join(dir, "error.log")
	// -e: the error log before the configuration is read, which otherwise
	// goes to /var/log/nginx, not writable by everyone.
	cmd := exec.CommandContext(ctx, bin, "-p", dir+"/", "-c", confPath, "-e", errLog)
	cmd.Stdout, cmd.Stderr = nil, nil
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	n := &Nginx{URL: "http://127.0.0.1:" + strconv.Itoa(port), Root: root, AccessLog: access, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() {
		n.err = cmd.Wait()
		close(n.done)
	}()
	if err := waitListening(ctx, "127.0.0.1:"+strconv.Itoa(port), n.done, 5*time.Second); err != nil {
		n.Stop()
		return nil, fmt.Errorf("nginx did not start: %w; %s", err, tail(errLog, 400))
	}
	return n, nil
}

// Stop stops nginx (SIGQUIT, then SIGKILL after 5 s) and waits for it.
func (n *Nginx) Stop() {
	stopProcess(n.cmd.Process, n.done, syscall.SIGQUIT)
}

// NginxRequest is one line of the access log.
type NginxRequest struct {
	Method, URI string
	Status      int
	Range       string // the request's Range header
	IfMatch     string // its If-Match
	IfRange     string // its If-Range
	Bytes       int64  // body bytes sent
	ETag        string // the ETag sent
}

// Requests returns the requests logged so far, oldest first.
func (n *Nginx) Requests() ([]NginxRequest, error) {
	f, err := os.Open(n.AccessLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var reqs []NginxRequest
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "|")
		if len(fields) != 8 {
			return nil, fmt.Errorf("access log: bad line %q", sc.Text())
		}
		for i, f := range fields {
			if f == "-" { // nginx's empty value
				fields[i] = ""
			}
		}
		status, _ := strconv.Atoi(fields[2])
		sent, _ := strconv.ParseInt(fields[6], 10, 64)
		reqs = append(reqs, NginxRequest{Method: fields[0], URI: fields[1], Status: status, Range: fields[3],
			IfMatch: fields[4], IfRange: fields[5], Bytes: sent, ETag: fields[7]})
	}
	return reqs, sc.Err()
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitListening dials addr until it answers, the process ends (exited is
// closed), ctx ends or limit passes, whichever comes first.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listening on %s after %v", addr, limit)
		}
		select {
		case <-exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stopProcess sends sig to p, then SIGKILL if it has not ended (done not
// closed) 5 s later, and waits for done.
func stopProcess(p *os.Process, done <-chan struct{}, sig os.Signal) {
	select {
	case <-done:
		return
	default:
	}
	p.Signal(sig)
	select {
	case <-done:
		return
	case <-time.After(5 * time.Second):
	}
	p.Kill()
	<-done
}

// tail returns at most the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	f.ReadAt(b, off)
	return strings.TrimSpace(string(b))
}
