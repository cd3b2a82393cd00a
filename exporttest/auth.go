package exporttest

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/golang-jwt/jwt/v5"
)

// The credentials the Server accepts. [Server.Client] configures them all.
const (
	// BrainbaseAPIKey is the Brainbase key, sent as x-api-key.
	BrainbaseAPIKey = "bb_test_3f9c2a7d41e8b6c05e1a"
	// MemsolusAPIKey is the Memsolus key, sent as X-Api-Key.
	MemsolusAPIKey = "msk_test_9d4e1b7a2c6f8e03b5d7"
	// OrbitAPIKey is the Orbit organization key, sent as X-API-Key.
	OrbitAPIKey = "sk_test_5a8c3e1f7b2d9046c1e8"
	// OrbitBearerToken is an Orbit dashboard token, sent as
	// "Authorization: Bearer <token>".
	OrbitBearerToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkYXNoYm9hcmQtdXNlciJ9.orbit-test-dashboard"
	// KoreClientID is the Kore JWT app's client id: the appId claim.
	KoreClientID = "cs-5f1c2e3a-7b8d-4e9f-a0b1-c2d3e4f5a6b7"
	// KoreClientSecret is the Kore JWT app's secret: the HS256 key.
	KoreClientSecret = "kore-test-secret-8f2a6c4e1b9d70531e"
)

// koreMaxTTL is the longest a Kore token may live when Enforce JTI is on.
const koreMaxTTL = time.Hour

// checkAuth verifies the credential of an API request the way vendor v
// does. It returns "" when the request may go on, or the message of the 401.
func (s *Server) checkAuth(v exportkit.Vendor, h http.Header) string {
	switch v {
	case exportkit.Brainbase:
		return keyMatches(h.Get("X-Api-Key"), BrainbaseAPIKey, "Invalid or missing API key")
	case exportkit.Memsolus:
		return keyMatches(h.Get("X-Api-Key"), MemsolusAPIKey, "Invalid or missing API key")
	case exportkit.Orbit:
		return checkOrbit(h)
	case exportkit.Kore:
		return s.checkKore(h.Get("Auth"))
	}
	return ""
}

func keyMatches(got, want, msg string) string {
	if got == want {
		return ""
	}
	return msg
}

// checkOrbit accepts the organization key as X-API-Key or the dashboard
// token as a Bearer. An sk_ key sent as a Bearer is refused, as Orbit's
// guide says.
func checkOrbit(h http.Header) string {
	if key := h.Get("X-Api-Key"); key != "" {
		return keyMatches(key, OrbitAPIKey, "Invalid API key")
	}
	authz := h.Get("Authorization")
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	switch {
	case authz == "":
		return "Missing X-API-Key header or Bearer token"
	case ok && strings.HasPrefix(tok, "sk_"):
		return "API keys must be sent as X-API-Key, not as a Bearer token"
	case ok && tok == OrbitBearerToken:
		return ""
	}
	return "Invalid bearer token"
}

// jtiLog remembers the jti of every accepted Kore token until it expires, so
// that a replayed token is refused.
type jtiLog struct {
	mu     sync.Mutex
	seen   map[string]time.Time // jti → token expiry
	pruned time.Time
}

// use records jti and reports whether it was fresh.
func (l *jtiLog) use(jti string, exp, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]time.Time{}
	}
	if now.Sub(l.pruned) > time.Minute {
		for k, e := range l.seen {
			if now.After(e) {
				delete(l.seen, k)
			}
		}
		l.pruned = now
	}
	if _, dup := l.seen[jti]; dup {
		return false
	}
	l.seen[jti] = exp
	return true
}

// checkKore verifies a Kore "auth" header: an HS256 JWT signed with
// KoreClientSecret, no "Bearer" prefix, claim appId (spelled exactly) equal
// to KoreClientID, a sub, an exp at most an hour after iat, and a jti never
// seen before.
func (s *Server) checkKore(raw string) string {
	const invalid = "Invalid SDK credentials"
	if raw == "" || strings.HasPrefix(raw, "Bearer ") {
		return invalid
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		return []byte(KoreClientSecret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(time.Now))
	if err != nil {
		return invalid
	}
	if appID, _ := claims["appId"].(string); appID != KoreClientID {
		return invalid
	}
	if sub, _ := claims["sub"].(string); sub == "" {
		return invalid
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return invalid
	}
	from := time.Now()
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		from = iat.Time
	}
	if exp.Sub(from) > koreMaxTTL {
		return "Token expiry must be within 1 hour when JTI is enforced"
	}
	if s.cfg.koreAllowReplay {
		return ""
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return "jti is required"
	}
	if !s.jtis.use(jti, exp.Time, time.Now()) {
		return "Token has already been used (jti replayed)"
	}
	return ""
}
