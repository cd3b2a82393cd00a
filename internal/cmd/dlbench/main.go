//go:build unix

// Command dlbench compares "exportkit download" with "curl -s -o FILE" on
// the same file from the same loopback server, as whole processes, several
// runs each, and prints the times and their ratio.
//
//	go run ./internal/cmd/dlbench            # 1 GiB, 5 runs each
//	go run ./internal/cmd/dlbench -size 256MiB -runs 3
//
// The server speaks just enough of the Brainbase API for the command (one
// COMPLETED export whose downloadUrl points back at it) and serves the file
// from disk with Range support, so that neither client is held back by it.
// exportkit verifies the size, computes the SHA-1 and fsyncs the file
// before renaming it into place; curl does none of that.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/exportkit/exportkit/internal/bench"
)

func main() {
	size := flag.String("size", "1GiB", "file size (B, KiB, MiB, GiB)")
	runs := flag.Int("runs", 5, "runs of each command")
	dir := flag.String("dir", ".", "directory for the served file and the downloads (use a real disk, not tmpfs)")
	bin := flag.String("exportkit", "", "exportkit binary (default: build ./cmd/exportkit)")
	serve := flag.Bool("serve", false, "only serve, and print the two commands (for hyperfine)")
	flag.Parse()
	n, err := bench.ParseSize(*size)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(n, *runs, *dir, *bin, *serve); err != nil {
		log.Fatal(err)
	}
}

func run(size int64, runs int, dir, bin string, serveOnly bool) error {
	curl, err := exec.LookPath("curl")
	if err != nil {
		return errors.New("curl not found: apt-get install -y curl")
	}
	work, err := os.MkdirTemp(dir, "dlbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if bin == "" {
		if bin, err = bench.BuildCLI(context.Background(), work); err != nil {
			return err
		}
	}
	src := filepath.Join(work, "export.csv")
	if _, err := bench.WriteRandomFile(src, size); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: handler(base, src, size)}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	fileURL := base + "/storage/export.csv?X-Amz-Signature=bench"
	if serveOnly {
		fmt.Printf("serving %s until interrupted\n", bench.FormatSize(size))
		fmt.Printf("curl -s -o FILE '%s'\n", fileURL)
		fmt.Printf("BRAINBASE_LABS_API_KEY=bench exportkit download brainbase exp_bench -o FILE --force -q --base-url %s\n", base)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		<-ctx.Done()
		return nil
	}
	out := filepath.Join(work, "out")
	commands := []struct {
		name string
		args []string
		env  []string
	}{
		{"curl -s -o FILE URL", []string{curl, "-s", "-o", out, fileURL}, nil},
		{"exportkit download brainbase ID -o FILE", []string{bin, "download", "brainbase", "exp_bench", "-o", out, "--force", "-q", "--base-url", base},
			[]string{"BRAINBASE_LABS_API_KEY=bench"}},
		{"exportkit download … -o FILE --sha1", []string{bin, "download", "brainbase", "exp_bench", "-o", out, "--force", "-q", "--sha1", "--base-url", base},
			[]string{"BRAINBASE_LABS_API_KEY=bench"}},
	}
	times := make([][]time.Duration, len(commands))
	fmt.Printf("%s file from %s, %d runs each, alternating; downloads to %s\n", bench.FormatSize(size), base, runs, work)
	for r := range runs {
		for i, c := range commands {
			i = (i + r) % len(commands) // alternate which goes first
			c = commands[i]
			// Start each run from a quiet disk: no writeback of the
			// previous run's bytes (or discard of its deleted blocks)
			// is billed to this one.
			os.Remove(out)
			syscall.Sync()
			time.Sleep(500 * time.Millisecond)
			cmd := exec.Command(c.args[0], c.args[1:]...)
			cmd.Env = append(os.Environ(), c.env...)
			cmd.Stderr = os.Stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			took := time.Since(start)
			if fi, err := os.Stat(out); err != nil || fi.Size() != size {
				return fmt.Errorf("%s: wrong output: %v", c.name, err)
			}
			times[i] = append(times[i], took)
		}
	}
	fmt.Printf("\n%-42s %10s %10s %10s %12s\n", "command", "min", "median", "max", "throughput")
	for i, c := range commands {
		t := slices.Clone(times[i])
		slices.Sort(t)
		med := t[len(t)/2]
		fmt.Printf("%-42s %10s %10s %10s %9.0f MB/s\n", c.name, round(t[0]), round(med), round(t[len(t)-1]),
			float64(size)/med.Seconds()/1e6)
	}
	fmt.Println()
	for i, c := range commands[1:] {
		fmt.Printf("%s / curl (median wall time): %.2f\n", c.name, median(times[i+1]).Seconds()/median(times[0]).Seconds())
	}
	return nil
}

// handler serves one COMPLETED Brainbase export and its file.
func handler(base, path string, size int64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/team/exports/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": r.PathValue("id"), "status": "COMPLETED", "format": "CSV",
			"fileSizeBytes": size, "downloadUrl": base + "/storage/export.csv?X-Amz-Signature=bench",
			"createdAt": time.Now().UTC().Format(time.RFC3339),
		})
	})
	mux.HandleFunc("GET /storage/export.csv", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("ETag", `"bench-`+strconv.FormatInt(size, 10)+`"`)
		w.Header().Set("Content-Type", "text/csv")
		http.ServeContent(w, r, "export.csv", time.Time{}, f) // sendfile: the server is not the bottleneck
	})
	return mux
}

func median(t []time.Duration) time.Duration {
	s := slices.SortedFunc(slices.Values(t), cmp.Compare[time.Duration])
	return s[len(s)/2]
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
