package exportkit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetryWhichStatuses: connection errors, 408, 429 and 5xx are retried;
// 501 and other 4xx are not.
func TestRetryWhichStatuses(t *testing.T) {
	tests := []struct {
		status int
		retry  bool
	}{
		{408, true}, {429, true}, {500, true}, {502, true}, {503, true}, {504, true}, {599, true},
		{501, false}, {400, false}, {401, false}, {403, false}, {404, false}, {409, false}, {410, false}, {422, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){
					reply(tt.status, `{"message":"x"}`),
					reply(200, brainbaseBody),
				}}
				c := newClient(t, rec, exportkit.WithRetry(3, time.Second, 10*time.Second))
				_, err := c.Exports.Get(context.Background(), "exp_1")
				if tt.retry {
					require.NoError(t, err)
					assert.Equal(t, 2, rec.count())
				} else {
					require.Error(t, err)
					assert.Equal(t, 1, rec.count())
				}
			})
		})
	}
}

func TestRetriesExhaustedReturnLastAPIError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(503, `{"error":"UNAVAILABLE","message":"down"}`)}}
		c := newClient(t, rec, exportkit.WithRetry(2, time.Second, 4*time.Second))
		_, err := c.Memories.Get(context.Background(), "m1")
		var ae *exportkit.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 503, ae.StatusCode)
		assert.Equal(t, "UNAVAILABLE", ae.Code)
		assert.Equal(t, 3, rec.count())
	})
}

// TestBackoffIsJitteredAndCapped: waits between attempts stay within
// [d/2, d] for d = min·2ⁿ capped at max.
func TestBackoffIsJitteredAndCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var times []time.Time
		var mu sync.Mutex
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			w.WriteHeader(502)
		})
		c := newClient(t, h, exportkit.WithRetry(5, time.Second, 4*time.Second))
		_, err := c.Exports.Get(context.Background(), "e")
		require.Error(t, err)
		require.Len(t, times, 6)
		caps := []time.Duration{1, 2, 4, 4, 4}
		for i := 1; i < len(times); i++ {
			d := times[i].Sub(times[i-1])
			hi := caps[i-1] * time.Second
			assert.GreaterOrEqual(t, d, hi/2, "attempt %d", i)
			assert.LessOrEqual(t, d, hi, "attempt %d", i)
		}
	})
}

// TestRetryAfterIsAFloor: a Retry-After within the retry maximum is slept,
// never shortened, in seconds and as an HTTP date.
func TestRetryAfterIsAFloor(t *testing.T) {
	for _, form := range []string{"seconds", "http-date"} {
		t.Run(form, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var times []time.Time
				first := true
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					times = append(times, time.Now())
					if first {
						first = false
						ra := "7"
						if form == "http-date" {
							ra = time.Now().Add(7 * time.Second).UTC().Format(http.TimeFormat)
						}
						w.Header().Set("Retry-After", ra)
						w.WriteHeader(429)
						return
					}
					_, _ = w.Write([]byte(brainbaseBody))
				})
				c := newClient(t, h, exportkit.WithRetry(3, 100*time.Millisecond, 10*time.Second))
				_, err := c.Exports.Get(context.Background(), "exp_1")
				require.NoError(t, err)
				require.Len(t, times, 2)
				assert.GreaterOrEqual(t, times[1].Sub(times[0]), 7*time.Second)
			})
		})
	}
}

// TestRetryAfterLongerThanMaxIsNotSlept: the call returns ErrRateLimited at
// once, with the server's delay, for the caller (or Wait) to honour.
func TestRetryAfterLongerThanMaxIsNotSlept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(503, `{}`, "Retry-After", "120")}}
		c := newClient(t, rec, exportkit.WithRetry(3, time.Second, 30*time.Second))
		start := time.Now()
		_, err := c.Exports.Get(context.Background(), "e")
		assert.Zero(t, time.Since(start))
		require.ErrorIs(t, err, exportkit.ErrRateLimited)
		var ae *exportkit.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 120*time.Second, ae.RetryAfter)
		assert.Equal(t, 1, rec.count())
	})
}

// TestRetryAfterBeyondDeadlineIsNotSlept: a delay longer than the context
// has left returns at once instead of sleeping into the deadline.
func TestRetryAfterBeyondDeadlineIsNotSlept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(429, `{}`, "Retry-After", "20")}}
		c := newClient(t, rec, exportkit.WithRetry(3, time.Second, 30*time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Exports.Get(ctx, "e")
		assert.Zero(t, time.Since(start))
		require.ErrorIs(t, err, exportkit.ErrRateLimited)
		assert.Equal(t, 1, rec.count())
	})
}

// TestCreatesAreNotReplayed: a create without an idempotency key is sent
// once, whatever comes back; Orbit's run creation, which carries one, is
// retried with the same key; idempotent reads are retried.
func TestCreatesAreNotReplayed(t *testing.T) {
	ctx := context.Background()
	creates := map[string]func(c *exportkit.Client) error{
		"brainbase": func(c *exportkit.Client) error { _, err := c.Exports.Create(ctx, nil); return err },
		"memsolus":  func(c *exportkit.Client) error { _, err := c.Memories.Create(ctx, nil); return err },
		"kore":      func(c *exportkit.Client) error { _, err := c.Bots.StartExport(ctx, "st-1", nil); return err },
	}
	for name, create := range creates {
		for _, status := range []int{500, 502, 503, 504, 429, 408} {
			t.Run(name+"/"+http.StatusText(status), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(status, `{}`, "Retry-After", "1")}}
					c := newClient(t, rec, exportkit.WithRetry(3, time.Second, 10*time.Second))
					require.Error(t, create(c))
					assert.Equal(t, 1, rec.count())
				})
			})
		}
		t.Run(name+"/connection reset", func(t *testing.T) {
			var n int
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				n++
				return nil, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
			})
			c := newClientRT(t, rt)
			require.Error(t, create(c))
			assert.Equal(t, 1, n)
		})
		t.Run(name+"/dial error is retried", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n int
				rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					n++
					if n == 1 {
						return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
					}
					return handlerTransport{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						_, _ = w.Write([]byte(`{"id":"e","_id":"ber-1","status":"PENDING"}`))
					})}.RoundTrip(r)
				})
				c := newClientRT(t, rt, exportkit.WithRetry(3, time.Second, 2*time.Second))
				require.NoError(t, create(c))
				assert.Equal(t, 2, n, "a request that never left the client may be sent again")
			})
		})
	}
	t.Run("orbit run with idempotency key is retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){
				reply(503, `{}`), reply(201, `{"data":`+orbitRunBody+`}`),
			}}
			c := newClient(t, rec, exportkit.WithRetry(3, time.Second, 2*time.Second))
			_, err := c.Audiences.CreateRun(ctx, "aud-1", nil)
			require.NoError(t, err)
			require.Equal(t, 2, rec.count())
			k1 := rec.requests[0].Header.Get("Idempotency-Key")
			assert.NotEmpty(t, k1)
			assert.Equal(t, k1, rec.requests[1].Header.Get("Idempotency-Key"))
			assert.JSONEq(t, rec.bodies[0], rec.bodies[1], "the body is replayed whole")
		})
	})
	t.Run("reads retry a reset", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var n int
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				n++
				if n == 1 {
					return nil, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
				}
				return handlerTransport{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = w.Write([]byte(brainbaseBody))
				})}.RoundTrip(r)
			})
			c := newClientRT(t, rt, exportkit.WithRetry(3, time.Second, 2*time.Second))
			_, err := c.Exports.Get(ctx, "exp_1")
			require.NoError(t, err)
			assert.Equal(t, 2, n)
		})
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newClientRT(t testing.TB, rt http.RoundTripper, opts ...exportkit.Option) *exportkit.Client {
	t.Helper()
	return newClient(t, nil, append([]exportkit.Option{exportkit.WithHTTPClient(&http.Client{Transport: rt})}, opts...)...)
}

// TestRateLimitPaces: WithRateLimit spaces requests; Kore is paced per bot
// under 60 a minute by default.
func TestRateLimitPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var times []time.Time
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			times = append(times, time.Now())
			_, _ = w.Write([]byte(brainbaseBody))
		})
		c := newClient(t, h, exportkit.WithRateLimit(exportkit.Brainbase, 2, 1))
		for i := 0; i < 5; i++ {
			_, err := c.Exports.Get(context.Background(), "exp_1")
			require.NoError(t, err)
		}
		assert.GreaterOrEqual(t, times[4].Sub(times[0]), 2*time.Second)
	})
	synctest.Test(t, func(t *testing.T) {
		var times []time.Time
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			times = append(times, time.Now())
			_, _ = w.Write([]byte(koreStatus))
		})
		hc := &http.Client{Transport: handlerTransport{h}}
		c, err := exportkit.NewClient(exportkit.WithHTTPClient(hc), exportkit.WithKoreApp(testKoreID, testKoreSecret),
			exportkit.WithBaseURL(exportkit.Kore, testBase))
		require.NoError(t, err)
		for i := 0; i < 61; i++ {
			_, err := c.Bots.ExportStatus(context.Background(), "st-1")
			require.NoError(t, err)
		}
		assert.Greater(t, times[60].Sub(times[0]), time.Minute, "61 requests to one bot take more than a minute")
		start := time.Now()
		_, err = c.Bots.ExportStatus(context.Background(), "st-2")
		require.NoError(t, err)
		assert.Zero(t, time.Since(start), "another bot has its own budget")
	})
}

// TestNoSecretInLogsOrErrors runs successful and failing calls with debug
// logging on and checks that no key, JWT or signed URL query appears in any
// log line or error string.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var jwts []string
	var mu sync.Mutex
	n := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		k := n
		if a := r.Header.Get("auth"); a != "" {
			jwts = append(jwts, a)
		}
		mu.Unlock()
		switch {
		case k%3 == 0:
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"message":"failed to sign https://s3.example/x?X-Amz-Signature=LEAKSIG&X-Amz-Credential=LEAKCRED with ` + testMemsolusKey + `"}`))
		case strings.Contains(r.URL.Path, "/bot/"):
			_, _ = w.Write([]byte(koreStatus))
		default:
			_, _ = w.Write([]byte(brainbaseBody))
		}
	})
	c := newClient(t, h, exportkit.WithLogger(logger), exportkit.WithRetry(-1, 0, 0))
	ctx := context.Background()
	var errs []string
	collect := func(_ any, err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	for i := 0; i < 4; i++ {
		collect(c.Exports.Get(ctx, "exp_1"))
		collect(c.Memories.Get(ctx, "m1"))
		collect(c.Audiences.ListRuns(ctx, "aud-1", nil))
		collect(c.Bots.ExportStatus(ctx, "st-1"))
		collect(c.Bots.StartExport(ctx, "st-1", nil))
	}
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route to " + r.URL.String())}
	})
	c2 := newClientRT(t, rt, exportkit.WithLogger(logger), exportkit.WithRetry(-1, 0, 0),
		exportkit.WithBaseURL(exportkit.Brainbase, "http://localhost:1/base"))
	collect(c2.Memories.List(ctx, &exportkit.ListOptions{Page: 1}))

	require.NotEmpty(t, errs)
	require.NotEmpty(t, jwts)
	require.NotZero(t, logs.Len())
	secrets := append([]string{testBrainbaseKey, testMemsolusKey, testOrbitKey, testKoreSecret, "LEAKSIG", "LEAKCRED"}, jwts...)
	all := logs.String() + strings.Join(errs, "\n")
	for _, s := range secrets {
		assert.NotContains(t, all, s)
	}
	assert.Contains(t, logs.String(), `"vendor":"brainbase"`)
}

// TestKoreRetryMintsAFreshJWT: with Enforce JTI a token cannot be replayed,
// so every attempt, retries included, carries a new jti.
func TestKoreRetryMintsAFreshJWT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(503, `{}`), reply(503, `{}`), reply(200, koreStatus)}}
		c := newClient(t, rec, exportkit.WithRetry(3, time.Second, 2*time.Second))
		_, err := c.Bots.ExportStatus(context.Background(), "st-1")
		require.NoError(t, err)
		require.Equal(t, 3, rec.count())
		seen := map[string]bool{}
		for _, r := range rec.requests {
			tok := r.Header.Get("auth")
			require.NotEmpty(t, tok)
			assert.False(t, seen[tok], "a JWT was sent twice")
			seen[tok] = true
		}
	})
}

// TestClientRateLimitPastDeadline: a client-side pacing wait that cannot
// fit before the deadline fails at once with ErrRateLimited.
func TestClientRateLimitPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{responses: []func(http.ResponseWriter, *http.Request){reply(200, brainbaseBody)}}
		c := newClient(t, rec, exportkit.WithRateLimit(exportkit.Brainbase, 0.1, 1), exportkit.WithRetry(-1, 0, 0))
		_, err := c.Exports.Get(context.Background(), "exp_1") // takes the only token
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = c.Exports.Get(ctx, "exp_1")
		require.ErrorIs(t, err, exportkit.ErrRateLimited)
		assert.Equal(t, 1, strings.Count(err.Error(), "exportkit:"), err.Error())
		assert.Contains(t, err.Error(), "client-side rate limit")
		assert.Zero(t, time.Since(start))
		assert.Equal(t, 1, rec.count())
	})
}
