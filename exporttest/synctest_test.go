package exporttest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run on testing/synctest's fake clock: time.Sleep below takes
// no real time.

func TestReadyAfterDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfterDuration(90*time.Second))
		defer srv.Close()
		h := creds(t, exportkit.Memsolus)
		id := str(call(t, srv, "POST", srv.URL()+"/v1/exports", h, "").json(t), "id")
		get := func() string { return str(call(t, srv, "GET", srv.URL()+"/v1/exports/"+id, h, "").json(t), "status") }
		assert.Equal(t, "PENDING", get())
		for range 5 {
			assert.Equal(t, "PROCESSING", get(), "reads alone do not finish it")
		}
		time.Sleep(89 * time.Second)
		assert.Equal(t, "PROCESSING", get())
		time.Sleep(time.Second)
		assert.Equal(t, "READY", get())

		time.Sleep(72 * time.Hour)
		assert.Equal(t, "EXPIRED", get(), "Memsolus keeps a file 72 h after READY")
		r := call(t, srv, "GET", srv.URL()+"/v1/exports/"+id+"/download", h, "")
		assert.Equal(t, http.StatusGone, r.code)
	})
}

func TestSignedURLExpiresWithTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory())
		defer srv.Close()
		_, u := readyURL(t, srv, exportkit.Brainbase)
		assert.Equal(t, http.StatusOK, call(t, srv, "GET", u, nil, "").code)
		time.Sleep(24*time.Hour - time.Second)
		assert.Equal(t, http.StatusOK, call(t, srv, "GET", u, nil, "").code)
		time.Sleep(time.Second)
		r := call(t, srv, "GET", u, nil, "")
		assert.Equal(t, http.StatusForbidden, r.code)
		assert.Contains(t, string(r.body), "Request has expired")

		short := exporttest.NewServer(exporttest.InMemory(), exporttest.SignedURLTTL(time.Minute))
		defer short.Close()
		_, u = readyURL(t, short, exportkit.Orbit)
		time.Sleep(time.Minute)
		assert.Equal(t, http.StatusForbidden, call(t, short, "GET", u, nil, "").code)
	})
}

func TestStallOnFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory())
		defer srv.Close()
		id, u := readyURL(t, srv, exportkit.Kore)
		require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(1000, 5*time.Minute)))
		start := time.Now()
		r := call(t, srv, "GET", u, nil, "")
		require.NoError(t, r.err)
		assert.Equal(t, srv.File(exportkit.Kore, id), r.body)
		assert.Equal(t, 5*time.Minute, time.Since(start), "the stall took exactly its time")

		require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(10, time.Hour)))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		require.NoError(t, err)
		resp, err := srv.HTTPClient().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		start = time.Now()
		_, err = io.ReadAll(resp.Body)
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
		assert.Equal(t, 30*time.Second, time.Since(start))
	})
}

func TestKoreJWTOnFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.KoreAllowJTIReplay())
		defer srv.Close()
		status := srv.URL() + "/api/public/bot/st-1/export/status"
		old := creds(t, exportkit.Kore)
		assert.Equal(t, http.StatusNotFound, call(t, srv, "GET", status, old, "").code)
		time.Sleep(11 * time.Minute)
		assert.Equal(t, http.StatusUnauthorized, call(t, srv, "GET", status, old, "").code, "the token expired")
		assert.Equal(t, http.StatusNotFound, call(t, srv, "GET", status, creds(t, exportkit.Kore), "").code)
	})
}
