package exporttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// try sends one request and reads the answer, returning the round trip's
// error instead of failing the test.
func try(t testing.TB, srv *exporttest.Server, method, url string, h http.Header, body string) (reply, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{code: resp.StatusCode, header: resp.Header, body: b, err: err}, nil
}

// createCase is one vendor's create request and a way to count what the
// fake holds afterwards.
type createCase struct {
	vendor       exportkit.Vendor
	method, path string
	body         string
	count        func(t *testing.T, srv *exporttest.Server) int
}

func listLen(t *testing.T, srv *exporttest.Server, v exportkit.Vendor, path string) int {
	t.Helper()
	r := call(t, srv, "GET", srv.URL()+path, creds(t, v), "")
	require.Equal(t, http.StatusOK, r.code, "%s", r.body)
	var page struct{ Data []json.RawMessage }
	require.NoError(t, json.Unmarshal(r.body, &page), "%s", r.body)
	return len(page.Data)
}

var createCases = []createCase{
	{exportkit.Brainbase, "POST", "/api/team/exports", `{"format":"CSV","logType":"VoiceDeploymentLog"}`,
		func(t *testing.T, srv *exporttest.Server) int {
			return listLen(t, srv, exportkit.Brainbase, "/api/team/exports")
		}},
	{exportkit.Memsolus, "POST", "/v1/exports?format=json", "",
		func(t *testing.T, srv *exporttest.Server) int {
			return listLen(t, srv, exportkit.Memsolus, "/v1/exports")
		}},
	{exportkit.Orbit, "POST", "/v1/intent/audiences/aud-1/runs", `{"runType":"manual"}`,
		func(t *testing.T, srv *exporttest.Server) int {
			return listLen(t, srv, exportkit.Orbit, "/v1/intent/audiences/aud-1/runs")
		}},
	{exportkit.Kore, "POST", "/api/public/bot/st-bot-1/export", `{"exportType":"latest"}`,
		func(t *testing.T, srv *exporttest.Server) int {
			r := call(t, srv, "GET", srv.URL()+"/api/public/bot/st-bot-1/export/status", creds(t, exportkit.Kore), "")
			if r.code == http.StatusNotFound {
				return 0
			}
			require.Equal(t, http.StatusOK, r.code, "%s", r.body)
			return 1
		}},
}

func TestLoseNextCreateReplies(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		for _, tc := range createCases {
			t.Run(string(tc.vendor), func(t *testing.T) {
				srv := newServer(t, m)
				srv.LoseNextCreateReplies(1)
				_, err := try(t, srv, tc.method, srv.URL()+tc.path, creds(t, tc.vendor), tc.body)
				require.Error(t, err, "the reply is lost")
				if m.name == "memory" {
					assert.True(t, errors.Is(err, syscall.ECONNRESET), "looks like a connection reset: %v", err)
				}
				assert.Equal(t, 1, srv.LostCreateReplies())
				assert.Equal(t, 1, tc.count(t, srv), "the create was carried out")

				reqs := srv.Requests()
				require.NotEmpty(t, reqs)
				assert.Equal(t, tc.method, reqs[0].Method)
				assert.Equal(t, 0, reqs[0].Status, "a cut connection logs status 0")
				assert.Equal(t, http.StatusOK, reqs[len(reqs)-1].Status, "the listing answered")

				r, err := try(t, srv, tc.method, srv.URL()+tc.path, creds(t, tc.vendor), tc.body)
				require.NoError(t, err, "only the next create loses its reply")
				assert.Less(t, r.code, 300, "%s", r.body)
				assert.Equal(t, 1, srv.LostCreateReplies())
			})
		}
	})
}

func TestLoseNextCreateRepliesAddsUpAndCancels(t *testing.T) {
	srv := newServer(t, modes[1])
	bb := createCases[0]
	srv.LoseNextCreateReplies(2)
	srv.LoseNextCreateReplies(1)
	for range 3 {
		_, err := try(t, srv, bb.method, srv.URL()+bb.path, creds(t, bb.vendor), bb.body)
		require.Error(t, err)
	}
	srv.LoseNextCreateReplies(5)
	srv.LoseNextCreateReplies(0)
	_, err := try(t, srv, bb.method, srv.URL()+bb.path, creds(t, bb.vendor), bb.body)
	require.NoError(t, err, "LoseNextCreateReplies(0) cancels the losses to come")
	assert.Equal(t, 3, srv.LostCreateReplies())
	assert.Equal(t, 4, bb.count(t, srv))
}

// lossPattern creates n Memsolus exports and says which replies were lost.
func lossPattern(t *testing.T, n int, opts ...exporttest.Option) []bool {
	t.Helper()
	srv := newServer(t, modes[1], opts...)
	out := make([]bool, n)
	for i := range out {
		_, err := try(t, srv, "POST", srv.URL()+"/v1/exports?format=csv", creds(t, exportkit.Memsolus), "")
		out[i] = err != nil
	}
	assert.Equal(t, n, listLen(t, srv, exportkit.Memsolus, "/v1/exports?page_size=100"), "every create is carried out")
	return out
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func TestLoseCreateRepliesRate(t *testing.T) {
	const n = 60
	for _, tc := range []struct {
		name     string
		rate     float64
		min, max int
	}{
		{"zero", 0, 0, 0},
		{"negative counts as zero", -1, 0, 0},
		{"all", 1, n, n},
		{"above one counts as one", 7, n, n},
		{"a third", 0.3, n / 10, n / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost := count(lossPattern(t, n, exporttest.LoseCreateReplies(tc.rate)))
			assert.GreaterOrEqual(t, lost, tc.min)
			assert.LessOrEqual(t, lost, tc.max)
		})
	}
	t.Run("deterministic for a seed", func(t *testing.T) {
		a := lossPattern(t, n, exporttest.LoseCreateReplies(0.5), exporttest.Seed(42))
		b := lossPattern(t, n, exporttest.LoseCreateReplies(0.5), exporttest.Seed(42))
		c := lossPattern(t, n, exporttest.LoseCreateReplies(0.5), exporttest.Seed(43))
		assert.Equal(t, a, b)
		assert.NotEqual(t, a, c)
	})
}

// Through the SDK: a Brainbase create is never replayed, so the lost reply
// is the caller's error and the export exists once; an Orbit run create
// carries an Idempotency-Key, so its retry finds the same run.
func TestLostCreateReplyThroughClient(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		c := srv.Client()
		ctx := context.Background()

		srv.LoseNextCreateReplies(1)
		_, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
		require.Error(t, err)
		posts := 0
		for _, r := range srv.Requests() {
			if r.Method == "POST" {
				posts++
				assert.Equal(t, 0, r.Status)
			}
		}
		assert.Equal(t, 1, posts, "a create is sent once")
		assert.Equal(t, 1, createCases[0].count(t, srv))

		srv.LoseNextCreateReplies(1)
		run, err := c.Audiences.CreateRun(ctx, "aud-1", nil)
		require.NoError(t, err, "the retry with the same key answers")
		runs, err := c.Audiences.ListRuns(ctx, "aud-1", nil)
		require.NoError(t, err)
		require.Len(t, runs, 1, "one run, whatever the retries")
		assert.Equal(t, run.ID, runs[0].ID)
	})
}

func TestBrainbaseListEchoesDateRange(t *testing.T) {
	srv := newServer(t, modes[1])
	h := creds(t, exportkit.Brainbase)
	r := call(t, srv, "POST", srv.URL()+"/api/team/exports", h,
		`{"format":"JSON","logType":"VoiceDeploymentLog","startDate":"2026-12-01T00:00:00Z","endDate":"2026-12-02T00:00:00+00:00"}`)
	require.Equal(t, http.StatusCreated, r.code, "%s", r.body)
	call(t, srv, "POST", srv.URL()+"/api/team/exports", h, `{"format":"CSV"}`)

	list := call(t, srv, "GET", srv.URL()+"/api/team/exports", h, "")
	require.Equal(t, http.StatusOK, list.code)
	var page struct{ Data []map[string]any }
	require.NoError(t, json.Unmarshal(list.body, &page), "%s", list.body)
	require.Len(t, page.Data, 2)
	newest, oldest := page.Data[0], page.Data[1]
	assert.Equal(t, "CSV", newest["format"], "newest first")
	assert.NotContains(t, newest, "startDate", "no range sent, none echoed")
	assert.Equal(t, "JSON", oldest["format"])
	assert.Equal(t, "VoiceDeploymentLog", oldest["logType"])
	assert.Equal(t, "2026-12-01T00:00:00.000Z", oldest["startDate"])
	assert.Equal(t, "2026-12-02T00:00:00.000Z", oldest["endDate"])
	for _, k := range []string{"id", "status", "createdAt"} {
		assert.NotEmpty(t, oldest[k], k)
	}

	bad := call(t, srv, "POST", srv.URL()+"/api/team/exports", h, `{"startDate":"2026-12-02T00:00:00Z","endDate":"2026-12-01T00:00:00Z"}`)
	assert.Equal(t, http.StatusBadRequest, bad.code)
}
