package exportkit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	brainbaseBody = `{"id":"exp_1","status":"COMPLETED","format":"CSV","logType":null,"rowCount":12,"fileSizeBytes":1234.0,"downloadUrl":"https://bucket.s3.amazonaws.com/f.csv?X-Amz-Signature=abc","errorMessage":null,"createdAt":"2026-01-15T10:30:00.000Z","expiresAt":null,"unknownField":{"x":1}}`
	memsolusBody  = `{"id":"m-1","format":"json","status":"READY","user_id":"user-123","agent_id":null,"session_id":null,"priority":null,"categories":null,"created_after":null,"created_before":null,"created_at":"2026-01-15T10:30:00.000Z","updated_at":"2026-01-15T10:31:00.000Z"}`
	orbitRunBody  = `{"id":"run-1","audienceId":"aud-1","status":"queued","runType":"manual","dataDate":"2026-01-15","errorCode":null}`
	orbitExpBody  = `{"data":{"export":{"id":"ex-1","organizationId":"org","audienceId":"aud-1","runId":"run-1","exportType":"csv","status":"completed","storageProvider":"b2","contentType":"text/csv","byteSize":2048,"rowCount":10,"contentSha1":"da39a3ee5e6b4b0d3255bfef95601890afd80709","fileName":"aud.csv"},"downloadUrl":"https://f005.backblazeb2.com/file/b/aud.csv?Authorization=tok","downloadUrlExpiresAt":"2026-01-15T11:30:00Z","downloadUrlTtlSeconds":3600},"meta":{"timestamp":"2026-01-15T10:30:00Z","request_id":"req_abc"}}`
	koreStatus    = `{"_id":"ber-1","botId":"st-1","createdBy":"u-1","exportType":"published","requestType":"Botexport","status":"success","createdOn":"2018-12-05T07:18:40.028Z","__v":0,"downloadURL":"https://bots.kore.ai/f.zip?sig=s","fileId":"f-1","store":{"urlParams":"p"},"fileSize":"947"}`
	koreStart     = `{"status":"pending","streamId":"st-1","createdBy":"u-1","exportType":"published","requestType":"Botexport","_id":"ber-2","createdOn":"2018-12-05T07:18:40.028Z","__v":0}`
)

func TestEndpoints(t *testing.T) {
	ctx := context.Background()
	after := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		body       string
		status     int
		do         func(c *exportkit.Client) (any, error)
		method     string
		path       string // escaped path
		query      string
		reqBody    string
		check      func(t *testing.T, v any)
		idempotent bool
	}{
		{name: "brainbase create", body: `{"id":"exp_2","status":"PENDING","format":"CSV","createdAt":"2026-01-15T10:30:00Z"}`, status: 201,
			do: func(c *exportkit.Client) (any, error) {
				return c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV", LogType: "VoiceDeploymentLog"})
			},
			method: "POST", path: "/api/team/exports", reqBody: `{"format":"CSV","logType":"VoiceDeploymentLog"}`,
			check: func(t *testing.T, v any) {
				e := v.(*exportkit.LogExport)
				assert.Equal(t, "exp_2", e.ExportID())
				assert.Equal(t, exportkit.StatePending, e.State())
				assert.Equal(t, int64(-1), e.Size())
			}},
		{name: "brainbase create wrapped in data", body: `{"data":{"id":"exp_3","status":"PENDING"}}`, status: 201,
			do:     func(c *exportkit.Client) (any, error) { return c.Exports.Create(ctx, nil) },
			method: "POST", path: "/api/team/exports", reqBody: `{}`,
			check: func(t *testing.T, v any) { assert.Equal(t, "exp_3", v.(*exportkit.LogExport).ID) }},
		{name: "brainbase get", body: brainbaseBody, status: 200,
			do:     func(c *exportkit.Client) (any, error) { return c.Exports.Get(ctx, "exp_1") },
			method: "GET", path: "/api/team/exports/exp_1",
			check: func(t *testing.T, v any) {
				e := v.(*exportkit.LogExport)
				assert.Equal(t, exportkit.StateReady, e.State())
				assert.Equal(t, "COMPLETED", e.RawStatus())
				assert.Equal(t, int64(1234), e.Size())
				assert.Equal(t, int64(12), *e.RowCount)
				assert.Nil(t, e.LogType)
				assert.NoError(t, e.Err())
				assert.Equal(t, exportkit.Brainbase, e.Vendor())
			}},
		{name: "memsolus create", body: `{"id":"m-2","format":"csv","status":"PENDING","user_id":"user-123","created_at":"2026-01-15T10:30:00.000Z"}`, status: 202,
			do: func(c *exportkit.Client) (any, error) {
				return c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "csv", UserID: "user-123",
					Categories: []string{"work", "travel"}, Priority: "HIGH", CreatedAfter: &after})
			},
			method: "POST", path: "/v1/exports",
			query: "categories=work%2Ctravel&created_after=2026-01-02T03%3A04%3A05Z&format=csv&priority=HIGH&user_id=user-123",
			check: func(t *testing.T, v any) {
				e := v.(*exportkit.MemoryExport)
				assert.Equal(t, "m-2", e.ID)
				assert.Equal(t, exportkit.StatePending, e.State())
			}},
		{name: "memsolus get", body: memsolusBody, status: 200,
			do:     func(c *exportkit.Client) (any, error) { return c.Memories.Get(ctx, "m-1") },
			method: "GET", path: "/v1/exports/m-1",
			check: func(t *testing.T, v any) {
				e := v.(*exportkit.MemoryExport)
				assert.Equal(t, exportkit.StateReady, e.State())
				assert.Equal(t, "user-123", *e.UserID)
				assert.Equal(t, int64(-1), e.Size())
				exp, ok := e.ExpiresAt()
				require.True(t, ok)
				assert.Equal(t, e.UpdatedAt.Add(72*time.Hour), exp)
			}},
		{name: "memsolus list", body: `{"data":[` + memsolusBody + `],"meta":{"current_page":2,"per_page":5,"total":6,"last_page":2}}`, status: 200,
			do: func(c *exportkit.Client) (any, error) {
				return c.Memories.List(ctx, &exportkit.ListOptions{Page: 2, PageSize: 5})
			},
			method: "GET", path: "/v1/exports", query: "page=2&page_size=5",
			check: func(t *testing.T, v any) {
				p := v.(*exportkit.MemoryExportPage)
				require.Len(t, p.Data, 1)
				assert.Equal(t, 2, p.Meta.LastPage)
			}},
		{name: "memsolus list bare array", body: `[` + memsolusBody + `]`, status: 200,
			do:     func(c *exportkit.Client) (any, error) { return c.Memories.List(ctx, nil) },
			method: "GET", path: "/v1/exports",
			check: func(t *testing.T, v any) { assert.Len(t, v.(*exportkit.MemoryExportPage).Data, 1) }},
		{name: "orbit create run", body: `{"data":` + orbitRunBody + `,"meta":{"timestamp":"t","request_id":"req_run"}}`, status: 201,
			do: func(c *exportkit.Client) (any, error) {
				return c.Audiences.CreateRun(ctx, "aud-1", &exportkit.RunRequest{IdempotencyKey: "key-1"})
			},
			method: "POST", path: "/v1/intent/audiences/aud-1/runs", reqBody: `{"runType":"manual"}`,
			check: func(t *testing.T, v any) {
				r := v.(*exportkit.AudienceRun)
				assert.Equal(t, "run-1", r.ID)
				assert.Equal(t, exportkit.StatePending, r.State())
				assert.Equal(t, "req_run", r.RequestID)
				assert.Equal(t, "2026-01-15", *r.DataDate)
			}},
		{name: "orbit list runs", body: `{"data":[` + orbitRunBody + `]}`, status: 200,
			do: func(c *exportkit.Client) (any, error) {
				return c.Audiences.ListRuns(ctx, "aud-1", &exportkit.RunListOptions{Limit: 50})
			},
			method: "GET", path: "/v1/intent/audiences/aud-1/runs", query: "limit=50",
			check: func(t *testing.T, v any) { assert.Len(t, v.([]*exportkit.AudienceRun), 1) }},
		{name: "orbit create export", body: `{"data":{"export":{"id":"ex-1","audienceId":"aud-1","runId":"run-1","status":"processing","byteSize":0,"rowCount":0},"downloadUrl":null,"downloadUrlExpiresAt":null,"downloadUrlTtlSeconds":null}}`, status: 202,
			do:     func(c *exportkit.Client) (any, error) { return c.Audiences.CreateExport(ctx, "aud-1", "run-1") },
			method: "POST", path: "/v1/intent/audiences/aud-1/runs/run-1/exports",
			check: func(t *testing.T, v any) {
				e := v.(*exportkit.AudienceExport)
				assert.Equal(t, exportkit.StateRunning, e.State())
				assert.Equal(t, int64(-1), e.Size())
				assert.Nil(t, e.DownloadURL)
			}},
		{name: "orbit get export", body: orbitExpBody, status: 200,
			do: func(c *exportkit.Client) (any, error) {
				return c.Audiences.GetExport(ctx, exportkit.ExportRef{AudienceID: "aud-1", RunID: "run-1", ExportID: "ex-1"})
			},
			method: "GET", path: "/v1/intent/audiences/aud-1/runs/run-1/exports/ex-1",
			check: func(t *testing.T, v any) {
				e := v.(*exportkit.AudienceExport)
				assert.Equal(t, exportkit.StateReady, e.State())
				assert.Equal(t, int64(2048), e.Size())
				assert.Equal(t, "req_abc", e.RequestID)
				assert.Equal(t, int64(3600), *e.DownloadURLTTLSeconds)
				assert.Equal(t, exportkit.ExportRef{AudienceID: "aud-1", RunID: "run-1", ExportID: "ex-1"}, e.Ref())
			}},
		{name: "kore start export", body: koreStart, status: 200,
			do: func(c *exportkit.Client) (any, error) {
				return c.Bots.StartExport(ctx, "st-1", &exportkit.BotExportRequest{ExportType: "published",
					ExportOptions: &exportkit.BotExportOptions{NLPData: []string{"utterances"}}, IncludeDependentTasks: ptr(true)})
			},
			method: "POST", path: "/api/public/bot/st-1/export",
			reqBody: `{"exportType":"published","exportOptions":{"nlpData":["utterances"]},"IncludeDependentTasks":true}`,
			check: func(t *testing.T, v any) {
				e := v.(*exportkit.BotExport)
				assert.Equal(t, "ber-2", e.ExportID())
				assert.Equal(t, "st-1", e.Bot())
				assert.Equal(t, exportkit.StatePending, e.State())
			}},
		{name: "kore export status", body: koreStatus, status: 200,
			do:     func(c *exportkit.Client) (any, error) { return c.Bots.ExportStatus(ctx, "st-1") },
			method: "GET", path: "/api/public/bot/st-1/export/status",
			check: func(t *testing.T, v any) {
				e := v.(*exportkit.BotExport)
				assert.Equal(t, exportkit.StateReady, e.State())
				assert.Equal(t, int64(947), e.Size(), "fileSize is a JSON string")
				assert.Equal(t, "p", e.Store.URLParams)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(tt.status, tt.body)}}
			c := newClient(t, rec)
			v, err := tt.do(c)
			require.NoError(t, err)
			require.Equal(t, 1, rec.count())
			r := rec.last()
			assert.Equal(t, tt.method, r.Method)
			assert.Equal(t, tt.path, r.URL.EscapedPath())
			assert.Equal(t, tt.query, r.URL.RawQuery)
			if tt.reqBody != "" {
				assert.JSONEq(t, tt.reqBody, rec.bodies[0])
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			}
			tt.check(t, v)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestOrbitCreateRunIdempotencyKey(t *testing.T) {
	rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(201, `{"data":`+orbitRunBody+`}`)}}
	c := newClient(t, rec)
	_, err := c.Audiences.CreateRun(context.Background(), "aud-1", &exportkit.RunRequest{IdempotencyKey: "mine"})
	require.NoError(t, err)
	assert.Equal(t, "mine", rec.last().Header.Get("Idempotency-Key"))
	_, err = c.Audiences.CreateRun(context.Background(), "aud-1", nil)
	require.NoError(t, err)
	gen := rec.last().Header.Get("Idempotency-Key")
	assert.Len(t, gen, 36, "a generated UUID")
	_, err = c.Audiences.CreateRun(context.Background(), "aud-1", &exportkit.RunRequest{IdempotencyKey: strings.Repeat("k", 121)})
	require.ErrorContains(t, err, "120")
	assert.Equal(t, 2, rec.count())
}

func TestMemsolusCreateValidatesBeforeSending(t *testing.T) {
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("c%d", i)
	}
	tests := []struct {
		name string
		req  exportkit.MemoryExportRequest
		msg  string
	}{
		{"21 categories", exportkit.MemoryExportRequest{Categories: many}, "21 categories"},
		{"comma in category", exportkit.MemoryExportRequest{Categories: []string{"a,b"}}, "comma"},
		{"bad format", exportkit.MemoryExportRequest{Format: "xml"}, "format"},
		{"bad priority", exportkit.MemoryExportRequest{Priority: "urgent"}, "priority"},
	}
	rec := &recorder{}
	c := newClient(t, rec)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Memories.Create(context.Background(), &tt.req)
			require.ErrorContains(t, err, tt.msg)
			assert.Contains(t, err.Error(), "exportkit: memsolus: create export")
		})
	}
	_, err := c.Memories.Create(context.Background(), &exportkit.MemoryExportRequest{Categories: many[:20]})
	require.Error(t, err) // the recorder answers 204: no body
	assert.Equal(t, 1, rec.count(), "20 categories are sent")
	_, err = c.Memories.List(context.Background(), &exportkit.ListOptions{PageSize: 101})
	require.ErrorContains(t, err, "page size")
	_, err = c.Audiences.ListRuns(context.Background(), "a", &exportkit.RunListOptions{Limit: 101})
	require.ErrorContains(t, err, "limit")
	_, err = c.Bots.StartExport(context.Background(), "st-1", &exportkit.BotExportRequest{ExportType: "draft"})
	require.ErrorContains(t, err, "latest or published")
	assert.Equal(t, 1, rec.count())
}

func TestMemoriesAllPages(t *testing.T) {
	page := func(ids []string, cur, last int) string {
		items := make([]string, len(ids))
		for i, id := range ids {
			items[i] = fmt.Sprintf(`{"id":%q,"status":"READY"}`, id)
		}
		return fmt.Sprintf(`{"data":[%s],"meta":{"current_page":%d,"per_page":2,"total":5,"last_page":%d}}`, strings.Join(items, ","), cur, last)
	}
	rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){
		reply(200, page([]string{"a", "b"}, 1, 3)),
		reply(200, page([]string{"c", "d"}, 2, 3)),
		reply(200, page([]string{"e"}, 3, 3)),
	}}
	c := newClient(t, rec)
	var got []string
	for e, err := range c.Memories.All(context.Background(), &exportkit.ListOptions{PageSize: 2}) {
		require.NoError(t, err)
		got = append(got, e.ID)
	}
	assert.Equal(t, []string{"a", "b", "c", "d", "e"}, got)
	assert.Equal(t, 3, rec.count())
	assert.Equal(t, "page=3&page_size=2", rec.last().URL.RawQuery)

	// Breaking early stops paging.
	rec2 := &recorder{responses: rec.responses}
	c2 := newClient(t, rec2)
	for range c2.Memories.All(context.Background(), &exportkit.ListOptions{PageSize: 2}) {
		break
	}
	assert.Equal(t, 1, rec2.count())

	// A server that ignores paging is caught instead of looping forever.
	rec3 := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(200, `[{"id":"a"},{"id":"b"}]`)}}
	c3 := newClient(t, rec3)
	var errs int
	for _, err := range c3.Memories.All(context.Background(), &exportkit.ListOptions{PageSize: 2}) {
		if err != nil {
			errs++
			assert.ErrorContains(t, err, "ignores paging")
		}
	}
	assert.Equal(t, 1, errs)
}

// TestUnsafeIDs: an id can never change the endpoint a request reaches.
func TestUnsafeIDs(t *testing.T) {
	ids := []string{"a/b", "../../admin", "x?admin=1", "x#frag", "100%", "a/../b", "..%2F", " sp ace", "\x00nul", "é"}
	rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(200, brainbaseBody)}}
	c := newClient(t, rec)
	for _, id := range ids {
		t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
			_, _ = c.Exports.Get(context.Background(), id)
			r := rec.last()
			p := r.URL.EscapedPath()
			require.True(t, strings.HasPrefix(p, "/api/team/exports/"), p)
			rest := strings.TrimPrefix(p, "/api/team/exports/")
			assert.NotContains(t, rest, "/", "one segment")
			assert.Empty(t, r.URL.RawQuery)
			assert.Empty(t, r.URL.Fragment)
			assert.Equal(t, id, strings.TrimPrefix(r.URL.Path, "/api/team/exports/"), "the server sees the id unchanged")
		})
	}
	for _, bad := range []string{"", ".", ".."} {
		n := rec.count()
		_, err := c.Exports.Get(context.Background(), bad)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "exportkit: brainbase: get export")
		_, err = c.Audiences.GetExport(context.Background(), exportkit.ExportRef{AudienceID: "a", RunID: bad, ExportID: "x"})
		require.ErrorContains(t, err, "run id")
		_, err = c.Bots.ExportStatus(context.Background(), bad)
		require.ErrorContains(t, err, "bot id")
		_, err = c.Memories.Get(context.Background(), bad)
		require.Error(t, err)
		assert.Equal(t, n, rec.count(), "nothing sent for %q", bad)
	}
}

func TestBadResponseBodies(t *testing.T) {
	huge := `{"id":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name, body, contentType, want string
	}{
		{"empty 200", "", "application/json", "empty response body"},
		{"malformed json", `{"id":"x",`, "application/json", "decode response"},
		{"wrong types", `{"id":5}`, "application/json", "decode response"},
		{"html from a proxy", "<html><body>Sign in</body></html>", "text/html", "unexpected non-JSON response"},
		{"huge body", huge, "application/json", "larger than 1048576 bytes"},
		{"trailing garbage", `{"id":"x"} {"id":"y"}`, "application/json", "decode response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(200, tt.body, "Content-Type", tt.contentType)}}
			c := newClient(t, rec)
			_, err := c.Exports.Get(context.Background(), "e1")
			require.Error(t, err)
			assert.Contains(t, err.Error(), `exportkit: brainbase: get export "e1": `)
			assert.Contains(t, err.Error(), tt.want)
			assert.Less(t, len(err.Error()), 300)
		})
	}
}

func TestUnknownStatusAndNulls(t *testing.T) {
	bodies := map[string]string{
		"brainbase": `{"id":"e","status":"ARCHIVING","format":"CSV","logType":null,"rowCount":null,"fileSizeBytes":null,"downloadUrl":null,"errorMessage":null,"expiresAt":null}`,
		"kore":      `{"_id":"ber-1","status":"queued-for-review","fileSize":null,"downloadURL":null,"store":null,"__v":"3"}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(200, body)}}
			c := newClient(t, rec)
			var e exportkit.Export
			var err error
			if name == "kore" {
				e, err = c.Bots.ExportStatus(context.Background(), "st-1")
			} else {
				e, err = c.Exports.Get(context.Background(), "e")
			}
			require.NoError(t, err)
			assert.Equal(t, exportkit.StateUnknown, e.State())
			assert.False(t, e.State().Terminal())
			assert.NotEmpty(t, e.RawStatus())
			assert.Equal(t, int64(-1), e.Size())
			assert.NoError(t, e.Err())
		})
	}
}

func TestFlexInt64(t *testing.T) {
	tests := []struct {
		in    string
		want  int64
		valid bool
		err   bool
	}{
		{`947`, 947, true, false}, {`"947"`, 947, true, false}, {`947.0`, 947, true, false},
		{`null`, 0, false, false}, {`""`, 0, false, false}, {`" 12 "`, 12, true, false},
		{`"abc"`, 0, false, true}, {`true`, 0, false, true}, {`1e400`, 0, false, true},
	}
	for _, tt := range tests {
		var f exportkit.FlexInt64
		err := json.Unmarshal([]byte(tt.in), &f)
		if tt.err {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, f.Value, tt.in)
		assert.Equal(t, tt.valid, f.Valid, tt.in)
	}
	b, _ := json.Marshal(exportkit.FlexInt64{Value: 5, Valid: true})
	assert.Equal(t, "5", string(b))
}
