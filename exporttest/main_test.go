package exporttest_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mode is one of the two transports every behaviour is checked on.
type mode struct {
	name string
	opts []exporttest.Option
}

var modes = []mode{
	{"sockets", nil},
	{"memory", []exporttest.Option{exporttest.InMemory()}},
}

// eachMode runs f once with loopback sockets and once in memory.
func eachMode(t *testing.T, f func(t *testing.T, m mode)) {
	t.Helper()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

// newServer starts a server with m's transport and opts, closed with the
// test.
func newServer(t *testing.T, m mode, opts ...exporttest.Option) *exporttest.Server {
	t.Helper()
	srv := exporttest.NewServer(append(append([]exporttest.Option{}, m.opts...), opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// reply is a response read to its end.
type reply struct {
	code   int
	header http.Header
	body   []byte
	err    error // from reading the body
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.body, &v), "body: %s", r.body)
	return v
}

// call sends one request through srv's transport and reads the whole body.
func call(t testing.TB, srv *exporttest.Server, method, url string, h http.Header, body string) reply {
	t.Helper()
	return callCtx(t, context.Background(), srv.HTTPClient(), method, url, h, body)
}

func callCtx(t testing.TB, ctx context.Context, c *http.Client, method, url string, h http.Header, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	require.NoError(t, err)
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{code: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// creds are valid credentials for vendor v (a fresh JWT for Kore).
func creds(t testing.TB, v exportkit.Vendor) http.Header {
	h := http.Header{}
	switch v {
	case exportkit.Brainbase:
		h.Set("x-api-key", exporttest.BrainbaseAPIKey)
	case exportkit.Memsolus:
		h.Set("X-Api-Key", exporttest.MemsolusAPIKey)
	case exportkit.Orbit:
		h.Set("X-API-Key", exporttest.OrbitAPIKey)
	case exportkit.Kore:
		h.Set("auth", koreToken(t, jwt.SigningMethodHS256, exporttest.KoreClientSecret, nil))
	}
	return h
}

// koreToken signs Kore claims (appId, sub, iat, exp in 10 min, fresh jti),
// changed by edit first.
func koreToken(t testing.TB, m jwt.SigningMethod, secret string, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"appId": exporttest.KoreClientID, "sub": "tester",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": rand.Text(),
	}
	if edit != nil {
		edit(claims)
	}
	var key any = []byte(secret)
	if m == jwt.SigningMethodNone {
		key = jwt.UnsafeAllowNoneSignatureType
	}
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

// path reads a nested field of decoded JSON: path(v, "data", "export", "id").
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, keys ...string) string {
	s, _ := path(v, keys...).(string)
	return s
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}
