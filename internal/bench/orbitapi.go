package bench

// The CLI measurements run `exportkit download` as a whole process, which
// starts from a vendor's status endpoint. Orbit's carries a size and a
// SHA-1 (contentSha1), so the CLI verifies both, the way an export is
// verified in production.

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/exportkit/exportkit"
)

// OrbitExportID is the id the CLI is given for the export that
// [OrbitAPI] serves: exportkit download orbit OrbitExportID -o FILE.
const OrbitExportID = "aud_bench/run_bench/exp_bench"

// OrbitEnv is the environment the CLI needs for [OrbitAPI]: a dummy key.
var OrbitEnv = []string{exportkit.EnvLeadpipeAPIKey + "=bench"}

// OrbitAPI serves one completed Orbit export of size bytes with the given
// SHA-1 (hex; "" sends none), whose download URL is fileURL: the answer to
// GET /v1/intent/audiences/aud_bench/runs/run_bench/exports/exp_bench.
func OrbitAPI(fileURL string, size int64, sha1Hex string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/intent/audiences/{a}/runs/{r}/exports/{e}", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UTC()
		export := map[string]any{
			"id": r.PathValue("e"), "organizationId": "org_bench", "audienceId": r.PathValue("a"), "runId": r.PathValue("r"),
			"exportType": "csv", "status": "completed", "storageProvider": "b2", "contentType": "text/csv",
			"byteSize": size, "fileName": "export.csv", "completedAt": now, "createdAt": now, "updatedAt": now,
		}
		if sha1Hex != "" {
			export["contentSha1"] = sha1Hex
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"data": map[string]any{"export": export, "downloadUrl": fileURL, "downloadUrlTtlSeconds": 3600},
			"meta": map[string]any{"timestamp": now, "request_id": "req_bench"},
		})
	})
	return mux
}

// FileSHA1 returns the SHA-1 of a file, in hex.
func FileSHA1(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
