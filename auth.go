package exportkit

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// authFunc adds a vendor's credential to an API request's headers.
type authFunc func(h http.Header) error

// koreTokenTTL is the lifetime of a minted Kore JWT: well under the one hour
// Kore allows when "Enforce JTI" is on, and long enough for a slow request.
const koreTokenTTL = 10 * time.Minute

// authFor returns how requests to v carry their credential. A vendor with no
// credential configured gets an authFunc that fails with ErrUnauthorized
// before anything is sent.
func (cfg *config) authFor(v Vendor) (authFunc, error) {
	header := func(name, value, env, option string) authFunc {
		if value == "" {
			return missingCredential(v, env, option)
		}
		return func(h http.Header) error { h.Set(name, value); return nil }
	}
	switch v {
	case Brainbase:
		return header("x-api-key", cfg.brainbaseKey, EnvBrainbaseAPIKey, "WithBrainbaseAPIKey"), nil
	case Memsolus:
		return header("X-Api-Key", cfg.memsolusKey, EnvMemsolusAPIKey, "WithMemsolusAPIKey"), nil
	case Orbit:
		if cfg.orbitBearer != "" {
			return header("Authorization", "Bearer "+cfg.orbitBearer, "", ""), nil
		}
		return header("X-API-Key", cfg.orbitKey, EnvLeadpipeAPIKey, "WithOrbitAPIKey"), nil
	case Kore:
		if cfg.koreToken != "" {
			return header("auth", cfg.koreToken, "", ""), nil
		}
		if cfg.koreClientID == "" {
			return missingCredential(v, EnvKoreClientID+" and "+EnvKoreClientSecret, "WithKoreApp"), nil
		}
		id, secret := cfg.koreClientID, []byte(cfg.koreSecret)
		return func(h http.Header) error {
			tok, err := mintKoreJWT(id, secret, time.Now())
			if err != nil {
				return fmt.Errorf("sign JWT: %w", err)
			}
			h.Set("auth", tok)
			return nil
		}, nil
	}
	return nil, fmt.Errorf("exportkit: unknown vendor %q", string(v))
}

// missingCredential fails every request to v with an error matching
// ErrUnauthorized that says where the credential comes from. The error
// has no prefix of its own: the request's error adds it.
func missingCredential(v Vendor, env, option string) authFunc {
	return func(http.Header) error {
		return kinded(ErrUnauthorized, "no credential configured (set %s or %s)", env, option)
	}
}

// mintKoreJWT signs a fresh HS256 token the way Kore's public APIs want it:
// the claim spelled exactly "appId", a subject, issued-at, an expiry within
// the hour and a random jti that is never reused.
func mintKoreJWT(clientID string, secret []byte, now time.Time) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	claims := jwt.MapClaims{
		"appId": clientID,
		"sub":   "exportkit",
		"iat":   now.Unix(),
		"exp":   now.Add(koreTokenTTL).Unix(),
		"jti":   hex.EncodeToString(jti[:]),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}
