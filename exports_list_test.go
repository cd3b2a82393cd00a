package exportkit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

// Brainbase's export list has an undocumented shape: a bare array and a
// {"data": […]} or {"items": […]} envelope are all read.
func TestBrainbaseListShapes(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"bare array", `[` + brainbaseBody + `,{"id":"exp_2","status":"PENDING","format":"JSON","createdAt":"2026-01-15T10:31:00Z"}]`},
		{"data envelope", `{"data":[` + brainbaseBody + `,{"id":"exp_2","status":"PENDING","format":"JSON","createdAt":"2026-01-15T10:31:00Z"}]}`},
		{"items envelope", `{"items":[` + brainbaseBody + `,{"id":"exp_2","status":"PENDING","format":"JSON","createdAt":"2026-01-15T10:31:00Z"}],"total":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/api/team/exports" || r.Header.Get("x-api-key") != "k" {
					http.Error(w, "no", http.StatusNotFound)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := exportkit.NewClient(exportkit.WithBaseURL(exportkit.Brainbase, srv.URL), exportkit.WithBrainbaseAPIKey("k"))
			require.NoError(t, err)
			list, err := c.Exports.List(context.Background())
			require.NoError(t, err)
			require.Len(t, list, 2)
			require.Equal(t, "exp_1", list[0].ID)
			require.Equal(t, exportkit.StateReady, list[0].State())
			require.Equal(t, "JSON", list[1].Format)
		})
	}
}
