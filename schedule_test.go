package exportkit_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

func TestPollScheduleDelay(t *testing.T) {
	s := exportkit.DefaultPollSchedule()
	tests := []struct {
		name    string
		attempt int
		u       float64
		want    time.Duration
	}{
		{"first delay, centre draw", 1, 0.5, 2 * time.Second},
		{"second delay grows by 1.5", 2, 0.5, 3 * time.Second},
		{"capped at the maximum", 20, 0.5, 15 * time.Second},
		{"lowest draw spreads down by the jitter", 1, 0, 1600 * time.Millisecond},
		{"draw near one spreads up by nearly the jitter", 20, 0.999999, 18 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Delay(tt.attempt, tt.u)
			if d := got - tt.want; d < -5*time.Millisecond || d > 5*time.Millisecond {
				t.Fatalf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.u, got, tt.want)
			}
			if again := s.Delay(tt.attempt, tt.u); again != got {
				t.Fatalf("Delay is not pure: %v then %v", got, again)
			}
		})
	}
}

func TestPollScheduleMeanKeepsThePlainSchedule(t *testing.T) {
	s := exportkit.DefaultPollSchedule()
	const n = 10000
	var sum time.Duration
	for i := range n {
		sum += s.Delay(1, (float64(i)+0.5)/n)
	}
	if mean := sum / n; mean < 1990*time.Millisecond || mean > 2010*time.Millisecond {
		t.Fatalf("mean first delay = %v, want 2s", mean)
	}
}

func TestInvalidInputIsRecognisable(t *testing.T) {
	c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exports.Get(t.Context(), "..")
	if !errors.Is(err, exportkit.ErrInvalidInput) {
		t.Fatalf("Get(\"..\") = %v, want ErrInvalidInput", err)
	}
}

func TestClientDownloadFileAndOpenTakeAnyExport(t *testing.T) {
	srv := exporttest.NewServer(exporttest.ReadyAfter(0))
	defer srv.Close()
	c := srv.Client()
	e, err := c.Exports.Create(t.Context(), &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		t.Fatal(err)
	}
	ready, err := c.Wait(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "logs.csv")
	res, err := c.DownloadFile(t.Context(), ready, path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != res.Bytes {
		t.Fatalf("file: %v, size %d, want %d", err, fi.Size(), res.Bytes)
	}
	rc, err := c.Open(t.Context(), ready)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil || n != res.Bytes {
		t.Fatalf("Open read %d bytes, %v; want %d", n, err, res.Bytes)
	}
}
