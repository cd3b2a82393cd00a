package exportkit_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// TestPermanentTransportErrors: https:// spoken to a plain http server and
// a host name that does not exist are not retried (another attempt gets
// the same answer); a refused connection is, and its message says how
// many attempts were made.
func TestPermanentTransportErrors(t *testing.T) {
	retry := exportkit.WithRetry(3, time.Millisecond, 2*time.Millisecond)

	t.Run("TLS to an http server", func(t *testing.T) {
		var conns atomic.Int32
		srv := httptest.NewUnstartedServer(http.NotFoundHandler())
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		defer srv.Close()
		c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey(testBrainbaseKey), retry,
			exportkit.WithBaseURL(exportkit.Brainbase, strings.Replace(srv.URL, "http://", "https://", 1)))
		require.NoError(t, err)
		_, err = c.Exports.Get(context.Background(), "e1")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "attempts")
		assert.EqualValues(t, 1, conns.Load(), "one attempt only")
	})

	t.Run("unknown host", func(t *testing.T) {
		var dials atomic.Int32
		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "api.nowhere.example", IsNotFound: true}}
		}}}
		c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey(testBrainbaseKey), retry, exportkit.WithHTTPClient(hc),
			exportkit.WithBaseURL(exportkit.Brainbase, "https://api.nowhere.example"))
		require.NoError(t, err)
		_, err = c.Exports.Get(context.Background(), "e1")
		require.ErrorContains(t, err, "no such host")
		assert.EqualValues(t, 1, dials.Load(), "one attempt only")
	})

	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey(testBrainbaseKey), retry,
			exportkit.WithBaseURL(exportkit.Brainbase, "http://"+addr))
		require.NoError(t, err)
		_, err = c.Exports.Get(context.Background(), "e1")
		require.ErrorContains(t, err, "connection refused")
		assert.Contains(t, err.Error(), "(4 attempts)")
		assert.Equal(t, 1, strings.Count(err.Error(), "exportkit: "))
	})
}

// TestRateLimitZeroTurnsPacingOff: WithRateLimit(v, 0, 0) turns pacing off,
// Kore's default of 60 requests a minute per bot included.
func TestRateLimitZeroTurnsPacingOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory())
		defer srv.Close()
		ref, err := srv.AddExport(exportkit.Kore)
		require.NoError(t, err)
		for _, tc := range []struct {
			opts  []exportkit.Option
			paced bool
		}{{nil, true}, {[]exportkit.Option{exportkit.WithRateLimit(exportkit.Kore, 0, 0)}, false}} {
			c := srv.Client(tc.opts...)
			start := time.Now()
			for range 4 {
				_, err := c.Bots.ExportStatus(context.Background(), ref.BotID)
				require.NoError(t, err)
			}
			assert.Equal(t, tc.paced, time.Since(start) > 2*time.Second, "paced %v: 4 reads took %s", tc.paced, time.Since(start))
		}
	})
}
