package exporttest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKoreLifecycle(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		bot := srv.URL() + "/api/public/bot/st-123/export"
		r := call(t, srv, "POST", bot, creds(t, exportkit.Kore), `{"exportType":"published","IncludeDependentTasks":true}`)
		require.Equal(t, http.StatusOK, r.code, "%s", r.body)
		v := r.json(t)
		id := str(v, "_id")
		assert.True(t, strings.HasPrefix(id, "ber-"), id)
		assert.Equal(t, "pending", v["status"])
		assert.Equal(t, "st-123", v["streamId"])
		assert.Equal(t, "published", v["exportType"])
		assert.Equal(t, "Botexport", v["requestType"])
		assert.EqualValues(t, 0, v["__v"])
		assert.True(t, strings.HasPrefix(str(v, "createdBy"), "u-"))
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, v["createdOn"])

		var statuses []string
		for range 3 {
			v = call(t, srv, "GET", bot+"/status", creds(t, exportkit.Kore), "").json(t)
			statuses = append(statuses, str(v, "status"))
		}
		assert.Equal(t, []string{"pending", "in-progress", "success"}, statuses)
		assert.Equal(t, id, v["_id"])
		assert.Equal(t, "st-123", v["botId"])
		assert.Equal(t, "65536", v["fileSize"], "fileSize is a JSON string")
		assert.NotEmpty(t, v["fileId"])
		u := str(v, "downloadURL")
		require.True(t, strings.HasPrefix(u, srv.StorageURL()+"/kore/"), u)
		assert.Equal(t, u[strings.Index(u, "?")+1:], str(v, "store", "urlParams"))

		dl := call(t, srv, "GET", u, nil, "")
		require.Equal(t, http.StatusOK, dl.code, "%s", dl.body)
		assert.Equal(t, "application/zip", dl.header.Get("Content-Type"))
		assert.Equal(t, srv.File(exportkit.Kore, id), dl.body)

		other := srv.StartKoreExport("st-123")
		v = call(t, srv, "GET", bot+"/status", creds(t, exportkit.Kore), "").json(t)
		assert.Equal(t, other, v["_id"], "the status endpoint reports the bot's latest export")
		assert.Equal(t, "latest", v["exportType"])
	})
}

func TestKoreErrors(t *testing.T) {
	srv := newServer(t, modes[1], exporttest.FailWith("EXPORT_ERROR", "bot definition invalid"), exporttest.ReadyAfter(0))
	bot := srv.URL() + "/api/public/bot/st-1/export"
	for _, body := range []string{"", `{}`, `{"exportType":"all"}`, `{"exportType":`} {
		r := call(t, srv, "POST", bot, creds(t, exportkit.Kore), body)
		require.Equal(t, http.StatusBadRequest, r.code, body)
		assert.NotEmpty(t, str(r.json(t)["errors"].([]any)[0], "msg"))
	}
	r := call(t, srv, "GET", srv.URL()+"/api/public/bot/st-none/export/status", creds(t, exportkit.Kore), "")
	require.Equal(t, http.StatusNotFound, r.code)

	call(t, srv, "POST", bot, creds(t, exportkit.Kore), `{"exportType":"latest"}`)
	v := call(t, srv, "GET", bot+"/status", creds(t, exportkit.Kore), "").json(t)
	assert.Equal(t, "failed", v["status"])
	assert.Equal(t, "EXPORT_ERROR", v["errorCode"])
	assert.Equal(t, "bot definition invalid", v["errorMessage"])
	assert.Nil(t, v["downloadURL"])
}

func TestKoreJWT(t *testing.T) {
	srv := newServer(t, modes[1])
	status := srv.URL() + "/api/public/bot/st-1/export/status"
	secret := exporttest.KoreClientSecret
	replayed := koreToken(t, jwt.SigningMethodHS256, secret, nil)
	require.NotEqual(t, http.StatusUnauthorized, call(t, srv, "GET", status, http.Header{"Auth": {replayed}}, "").code)
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", koreToken(t, jwt.SigningMethodHS256, secret, nil), true},
		{"exp exactly one hour after iat", koreToken(t, jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) {
			c["exp"] = time.Now().Add(time.Hour).Unix()
		}), true},
		{"replayed jti", replayed, false},
		{"missing", "", false},
		{"bearer prefix", "Bearer " + koreToken(t, jwt.SigningMethodHS256, secret, nil), false},
		{"wrong secret", koreToken(t, jwt.SigningMethodHS256, "not-the-secret", nil), false},
		{"HS512", koreToken(t, jwt.SigningMethodHS512, secret, nil), false},
		{"alg none", koreToken(t, jwt.SigningMethodNone, "", nil), false},
		{"appid spelled wrong", koreToken(t, jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) {
			c["appid"] = c["appId"]
			delete(c, "appId")
		}), false},
		{"other app", koreToken(t, jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { c["appId"] = "cs-other" }), false},
		{"no sub", koreToken(t, jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { delete(c, "sub") }), false},
		{"no exp", koreToken(t, jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { delete(c, "exp") }), false},
		{"expired", koreToken(t, jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) {
			c["iat"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
		}), false},
		{"lives over an hour", koreToken(t, jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) {
			c["exp"] = time.Now().Add(61 * time.Minute).Unix()
		}), false},
		{"no jti", koreToken(t, jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { delete(c, "jti") }), false},
		{"issued in the future", koreToken(t, jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(10 * time.Minute).Unix()
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.token != "" {
				h.Set("auth", tc.token)
			}
			r := call(t, srv, "GET", status, h, "")
			if tc.ok {
				assert.NotEqual(t, http.StatusUnauthorized, r.code, "%s", r.body)
				return
			}
			require.Equal(t, http.StatusUnauthorized, r.code, "%s", r.body)
			e := r.json(t)["errors"].([]any)[0]
			assert.EqualValues(t, 4002, path(e, "code"))
			assert.NotEmpty(t, str(e, "msg"))
		})
	}
}

func TestKoreOptions(t *testing.T) {
	srv := newServer(t, modes[1], exporttest.KoreFlatErrors(), exporttest.KoreAllowJTIReplay())
	status := srv.URL() + "/api/public/bot/st-1/export/status"
	r := call(t, srv, "GET", status, nil, "")
	require.Equal(t, http.StatusUnauthorized, r.code)
	v := r.json(t)
	assert.Equal(t, "Invalid SDK credentials", v["msg"])
	assert.EqualValues(t, 4002, v["code"])

	tok := http.Header{"Auth": {koreToken(t, jwt.SigningMethodHS256, exporttest.KoreClientSecret, nil)}}
	for range 2 {
		assert.Equal(t, http.StatusNotFound, call(t, srv, "GET", status, tok, "").code, "replay allowed")
	}
}

// The start body's optional fields are checked as Kore documents them.
func TestKoreStartBody(t *testing.T) {
	srv := newServer(t, modes[1])
	bot := srv.URL() + "/api/public/bot/st-1/export"
	good := []string{
		`{"exportType":"latest"}`,
		`{"exportType":"published","exportOptions":{"settings":["botSettings","genAIandLLMSettings"],"tasks":["botTask"],` +
			`"nlpData":["utterances","nlpSettings"],"AgentAI":["playbooks"]},"subTasks":{"dialogs":["Book a flight"],` +
			`"alerts":[],"actions":["a1"],"experienceFlows":["f1"]},"allTasks":false,"IncludeDependentTasks":true,"customDashboards":true}`,
		`{"exportType":"latest","exportOptions":null,"subTasks":null}`,
	}
	for _, body := range good {
		r := call(t, srv, "POST", bot, creds(t, exportkit.Kore), body)
		require.Equal(t, http.StatusOK, r.code, "%s: %s", body, r.body)
		assert.Equal(t, "pending", r.json(t)["status"], "the start answers pending")
	}
	bad := map[string]string{
		`{"exportType":"latest","exportOptions":{"settings":["everything"]}}`: `"everything" is not one of`,
		`{"exportType":"latest","exportOptions":{"nlp":["utterances"]}}`:      "exportOptions.nlp is not a known export option",
		`{"exportType":"latest","exportOptions":{"agentAI":["rules"]}}`:       "exportOptions.agentAI",
		`{"exportType":"latest","exportOptions":{"tasks":"botTask"}}`:         "Invalid JSON body",
		`{"exportType":"latest","subTasks":{"flows":["f1"]}}`:                 "subTasks.flows is not one of",
		`{"exportType":"latest","subTasks":{"dialogs":[""]}}`:                 "empty task name",
		`{"exportType":"latest","allTasks":"yes"}`:                            "Invalid JSON body",
		`{"exportType":"latest","IncludeDependentTasks":1}`:                   "Invalid JSON body",
		`{"exportType":"latest","customDashboards":"true"}`:                   "Invalid JSON body",
	}
	for body, want := range bad {
		r := call(t, srv, "POST", bot, creds(t, exportkit.Kore), body)
		require.Equal(t, http.StatusBadRequest, r.code, body)
		assert.Contains(t, str(r.json(t)["errors"].([]any)[0], "msg"), want, body)
	}
}

// A failing export reads pending, in-progress, then failed.
func TestKoreFailedSequence(t *testing.T) {
	srv := newServer(t, modes[1], exporttest.FailWith("EXPORT_ERROR", "bot definition invalid"))
	bot := srv.URL() + "/api/public/bot/st-1/export"
	call(t, srv, "POST", bot, creds(t, exportkit.Kore), `{"exportType":"latest"}`)
	var statuses []string
	for range 3 {
		statuses = append(statuses, str(call(t, srv, "GET", bot+"/status", creds(t, exportkit.Kore), "").json(t), "status"))
	}
	assert.Equal(t, []string{"pending", "in-progress", "failed"}, statuses)
}
