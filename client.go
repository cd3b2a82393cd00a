package exportkit

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit/internal/httpx"
)

// Client talks to the four vendor APIs. Create it with [NewClient]; it is
// safe for concurrent use, and every wait and download started from it
// shares its connection pools and rate limiters.
type Client struct {
	// Exports is Brainbase Labs' team log exports API.
	Exports *ExportsService
	// Memories is Memsolus' memory exports API.
	Memories *MemoriesService
	// Audiences is Leadpipe Orbit's audience runs and their CSV exports.
	Audiences *AudiencesService
	// Bots is Kore.ai XO's bot exports API.
	Bots *BotsService

	api     map[Vendor]*vendorClient
	storage *http.Client // signed-URL downloads: never carries a credential
	log     *slog.Logger
	ua      string
	secrets []string // every credential, scrubbed from any text that leaves the client
	wait    waitConfig
	tel     telemetry // OpenTelemetry spans and metrics (telemetry.go); off by default
}

// Option configures a [Client]. Options are applied in order by
// [NewClient]; a bad value makes NewClient return an error matching
// [ErrInvalidInput].
type Option func(*config) error

type config struct {
	brainbaseKey, memsolusKey   string
	orbitKey, orbitBearer       string
	koreClientID, koreSecret    string
	koreToken                   string
	baseURL                     map[Vendor]string
	httpClient, storageClient   *http.Client
	retry                       retryPolicy
	rateLimits                  map[Vendor]rateSpec
	logger                      *slog.Logger
	userAgent                   string
	defaultWait                 []WaitOption
	orbitKeySet, orbitBearerSet bool
	koreAppFromEnv              bool // the Kore app came from KORE_CLIENT_ID and KORE_CLIENT_SECRET
	tel                         telemetryConfig
}

type rateSpec struct {
	perSecond float64
	burst     int
}

// Default base URLs of the vendor APIs.
var defaultBaseURL = map[Vendor]string{
	Brainbase: "https://brainbase-monorepo-api.onrender.com",
	Memsolus:  "https://api.memsolus.com",
	Orbit:     "https://api.aws53.cloud",
	Kore:      "https://platform.kore.ai",
}

// Environment variables read by NewClient for settings whose option was not
// given.
const (
	EnvBrainbaseAPIKey  = "BRAINBASE_LABS_API_KEY"
	EnvBrainbaseBaseURL = "BRAINBASE_LABS_BASE_URL"
	EnvMemsolusAPIKey   = "MEMSOLUS_API_KEY"
	EnvMemsolusBaseURL  = "MEMSOLUS_BASE_URL"
	EnvLeadpipeAPIKey   = "LEADPIPE_API_KEY"
	EnvLeadpipeBaseURL  = "LEADPIPE_BASE_URL"
	EnvKoreClientID     = "KORE_CLIENT_ID"
	EnvKoreClientSecret = "KORE_CLIENT_SECRET"
	EnvKoreHost         = "KORE_HOST"
)

var envBaseURL = map[Vendor]string{
	Brainbase: EnvBrainbaseBaseURL,
	Memsolus:  EnvMemsolusBaseURL,
	Orbit:     EnvLeadpipeBaseURL,
	Kore:      EnvKoreHost,
}

// WithBrainbaseAPIKey sets the Brainbase API key, sent as the x-api-key
// header. Default: $BRAINBASE_LABS_API_KEY.
func WithBrainbaseAPIKey(key string) Option {
	return func(c *config) error { c.brainbaseKey = key; return nil }
}

// WithMemsolusAPIKey sets the Memsolus API key (msk_live_… or msk_test_…),
// sent as the X-Api-Key header. Default: $MEMSOLUS_API_KEY.
func WithMemsolusAPIKey(key string) Option {
	return func(c *config) error { c.memsolusKey = key; return nil }
}

// WithOrbitAPIKey sets the Leadpipe Orbit organization API key (sk_…), sent
// as the X-API-Key header. It cannot be combined with
// [WithOrbitBearerToken]. Default: $LEADPIPE_API_KEY.
func WithOrbitAPIKey(key string) Option {
	return func(c *config) error { c.orbitKey = key; c.orbitKeySet = key != ""; return nil }
}

// WithOrbitBearerToken sets a Leadpipe dashboard JWT, sent as
// "Authorization: Bearer <jwt>". It cannot be combined with [WithOrbitAPIKey].
func WithOrbitBearerToken(jwt string) Option {
	return func(c *config) error { c.orbitBearer = jwt; c.orbitBearerSet = jwt != ""; return nil }
}

// WithKoreApp sets the Kore.ai JWT app credentials. The client mints a fresh
// HS256 JWT for every request (claims appId, sub, iat, exp within one hour,
// and a fresh jti, so apps with "Enforce JTI" work) and sends it in the auth
// header. Defaults: $KORE_CLIENT_ID and $KORE_CLIENT_SECRET.
//
// Kore's optional JWE and payload encryption app settings are not supported.
func WithKoreApp(clientID, clientSecret string) Option {
	return func(c *config) error { c.koreClientID, c.koreSecret = clientID, clientSecret; return nil }
}

// WithKoreToken sets a ready-made Kore.ai JWT for the auth header, used as
// it is on every request. It cannot be combined with [WithKoreApp].
func WithKoreToken(jwt string) Option {
	return func(c *config) error { c.koreToken = jwt; return nil }
}

// WithBaseURL sets where vendor v's API is. The URL must be absolute https,
// or http to a loopback host (for tests); without a scheme, http is taken
// for a loopback host ("localhost:8080") and https for any other. Defaults: Brainbase
// https://brainbase-monorepo-api.onrender.com ($BRAINBASE_LABS_BASE_URL),
// Memsolus https://api.memsolus.com ($MEMSOLUS_BASE_URL), Orbit
// https://api.aws53.cloud ($LEADPIPE_BASE_URL), Kore https://platform.kore.ai
// ($KORE_HOST). The environment variables are read the same way.
func WithBaseURL(v Vendor, baseURL string) Option {
	return func(c *config) error {
		if !v.valid() {
			return fmt.Errorf("exportkit: WithBaseURL: unknown vendor %q", string(v))
		}
		if baseURL != "" {
			c.baseURL[v] = baseURL
		}
		return nil
	}
}

// WithHTTPClient sets the HTTP client for API calls; the client's retries
// wrap it. Its Transport is used as it is, but its CheckRedirect is replaced
// by one that never forwards a credential to another host. Storage downloads
// use a separate client (see [WithStorageHTTPClient]).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error { c.httpClient = hc; return nil }
}

// WithStorageHTTPClient sets the HTTP client used to fetch signed download
// URLs from storage hosts (S3, Backblaze B2, …). No credential is ever added
// to its requests, and its CheckRedirect is replaced by one that refuses
// unsafe redirects. Its transport should not ask for compression. Default: a
// dedicated client with compression off and no whole-request timeout.
func WithStorageHTTPClient(hc *http.Client) Option {
	return func(c *config) error { c.storageClient = hc; return nil }
}

// WithRetry sets how API requests are retried on connection errors, 408, 429
// and 5xx other than 501: at most max retries, waiting between minWait and
// maxWait with capped, jittered exponential backoff. A Retry-After from the
// server is a floor; one longer than maxWait (or than the context allows) is
// not slept: the call returns an error matching [ErrRateLimited]. A negative
// max turns retries off. Defaults: 4 retries, 500ms, 30s.
func WithRetry(max int, minWait, maxWait time.Duration) Option {
	return func(c *config) error {
		if minWait < 0 || maxWait < 0 {
			return errors.New("exportkit: WithRetry: negative wait")
		}
		if max != 0 {
			c.retry.max = max
			if max < 0 {
				c.retry.max = 0
			}
		}
		if minWait > 0 {
			c.retry.minWait = minWait
		}
		if maxWait > 0 {
			c.retry.maxWait = maxWait
		}
		if c.retry.maxWait < c.retry.minWait {
			return errors.New("exportkit: WithRetry: maxWait is less than minWait")
		}
		return nil
	}
}

// WithRateLimit paces every request to vendor v (retries included) to at
// most perSecond requests a second on average, with bursts of up to burst.
// It replaces Kore's default pacing of 60 requests a minute per bot with a
// limit for the whole vendor. A perSecond of 0 turns pacing off for v,
// Kore's default included (burst is then ignored); a negative value is an
// error.
func WithRateLimit(v Vendor, perSecond float64, burst int) Option {
	return func(c *config) error {
		if !v.valid() {
			return fmt.Errorf("exportkit: WithRateLimit: unknown vendor %q", string(v))
		}
		if perSecond < 0 || burst < 0 {
			return errors.New("exportkit: WithRateLimit: negative rate or burst")
		}
		if perSecond == 0 {
			c.rateLimits[v] = rateSpec{} // no pacing
			return nil
		}
		c.rateLimits[v] = rateSpec{perSecond: perSecond, burst: max(burst, 1)}
		return nil
	}
}

// WithLogger sets a structured logger. Each API request is logged at debug
// level with its vendor, method, redacted URL, status and duration. Keys,
// tokens and signed URL queries are never logged. Default: silent.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithUserAgent appends s to the User-Agent header "exportkit/<Version>".
func WithUserAgent(s string) Option {
	return func(c *config) error {
		if strings.ContainsAny(s, "\r\n") {
			return errors.New("exportkit: WithUserAgent: line break in user agent")
		}
		c.userAgent = s
		return nil
	}
}

// WithDefaultWait sets wait options that apply to every wait started from
// the client; options given to a Wait call come after them. A bad wait
// option makes NewClient fail.
func WithDefaultWait(opts ...WaitOption) Option {
	return func(c *config) error {
		probe := defaultWaitConfig()
		if err := probe.apply(opts); err != nil {
			return fmt.Errorf("exportkit: WithDefaultWait: %w", err)
		}
		c.defaultWait = append(c.defaultWait, opts...)
		return nil
	}
}

// NewClient returns a client configured by opts. Settings whose option is
// not given are read once from the environment (see the Env constants).
// A vendor whose credential is missing can still be configured; its calls
// fail with an error matching [ErrUnauthorized] before any request is sent.
// NewClient never panics: a bad option is an error.
func NewClient(opts ...Option) (*Client, error) {
	cfg := &config{
		baseURL:    map[Vendor]string{},
		rateLimits: map[Vendor]rateSpec{},
		retry:      defaultRetry,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(cfg); err != nil {
			return nil, &inputError{err}
		}
	}
	cfg.fromEnv()
	if cfg.orbitKey != "" && cfg.orbitBearer != "" {
		return nil, &inputError{errors.New("exportkit: orbit: both an API key and a bearer token given; use one")}
	}
	if cfg.koreToken != "" && (cfg.koreClientID != "" || cfg.koreSecret != "") {
		return nil, &inputError{errors.New("exportkit: kore: both an app (client id and secret) and a token given; use one")}
	}
	if (cfg.koreClientID == "") != (cfg.koreSecret == "") {
		return nil, cfg.koreHalfApp()
	}

	c := &Client{
		log: cfg.logger,
		ua:  "exportkit/" + Version,
		api: make(map[Vendor]*vendorClient, len(vendors)),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if cfg.userAgent != "" {
		c.ua += " " + cfg.userAgent
	}
	for _, s := range []string{cfg.brainbaseKey, cfg.memsolusKey, cfg.orbitKey, cfg.orbitBearer, cfg.koreSecret, cfg.koreToken} {
		if s != "" {
			c.secrets = append(c.secrets, s)
		}
	}
	c.wait = defaultWaitConfig()
	if err := c.wait.apply(cfg.defaultWait); err != nil {
		return nil, fmt.Errorf("exportkit: WithDefaultWait: %w", err) // checked by the option already
	}
	base := cfg.httpClient
	if base == nil {
		base = &http.Client{Transport: newAPITransport()}
	}
	for _, v := range vendors {
		raw := cfg.baseURL[v]
		if raw == "" {
			raw = defaultBaseURL[v]
		}
		u, err := parseBaseURL(raw)
		if err != nil {
			return nil, &inputError{fmt.Errorf("exportkit: %s: base URL: %w", v, err)}
		}
		auth, err := cfg.authFor(v)
		if err != nil {
			return nil, err
		}
		c.api[v] = newVendorClient(c, v, u, auth, base, cfg)
	}
	c.storage = newStorageClient(cfg.storageClient)
	tel, err := newTelemetry(cfg.tel, c.scrub)
	if err != nil {
		return nil, err
	}
	c.tel = tel
	c.storage = c.tel.wrapStorage(c.storage)
	c.Exports = &ExportsService{c: c, api: c.api[Brainbase]}
	c.Memories = &MemoriesService{c: c, api: c.api[Memsolus]}
	c.Audiences = &AudiencesService{c: c, api: c.api[Orbit]}
	c.Bots = &BotsService{c: c, api: c.api[Kore]}
	return c, nil
}

// fromEnv fills every setting whose option was not given from the
// environment, once.
func (cfg *config) fromEnv() {
	setDefault := func(p *string, env string) {
		if *p == "" {
			*p = os.Getenv(env)
		}
	}
	setDefault(&cfg.brainbaseKey, EnvBrainbaseAPIKey)
	setDefault(&cfg.memsolusKey, EnvMemsolusAPIKey)
	if !cfg.orbitKeySet && !cfg.orbitBearerSet {
		setDefault(&cfg.orbitKey, EnvLeadpipeAPIKey)
	}
	if cfg.koreToken == "" && cfg.koreClientID == "" && cfg.koreSecret == "" {
		setDefault(&cfg.koreClientID, EnvKoreClientID)
		setDefault(&cfg.koreSecret, EnvKoreClientSecret)
		cfg.koreAppFromEnv = cfg.koreClientID != "" || cfg.koreSecret != ""
	}
	for _, v := range vendors {
		if cfg.baseURL[v] == "" {
			if s := strings.TrimSpace(os.Getenv(envBaseURL[v])); s != "" {
				cfg.baseURL[v] = s
			}
		}
	}
}

// koreHalfApp is the error for a Kore app given only one of its two
// credentials, naming what is missing where it was to come from.
func (cfg *config) koreHalfApp() error {
	if cfg.koreAppFromEnv {
		set, unset := EnvKoreClientID, EnvKoreClientSecret
		if cfg.koreClientID == "" {
			set, unset = unset, set
		}
		return &inputError{fmt.Errorf("exportkit: kore: %s is set but %s is not: set both, or neither", set, unset)}
	}
	return &inputError{errors.New("exportkit: kore: WithKoreApp needs both a client id and a client secret")}
}

// parseBaseURL checks a vendor base URL: absolute, https (or http to a
// loopback host), no userinfo, query or fragment. A URL without a scheme
// ("localhost:8080", "platform.kore.ai") gets http when its host is a
// loopback host and https otherwise, whether it came from [WithBaseURL] or
// from the environment.
func parseBaseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw != "" && !strings.Contains(raw, "://") {
		host, _, _ := strings.Cut(raw, "/")
		scheme := "https://"
		if h, _, err := net.SplitHostPort(host); err == nil && httpx.IsLoopback(h) || httpx.IsLoopback(host) {
			scheme = "http://"
		}
		raw = scheme + raw
	}
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		if host, _, _ := strings.Cut(rest, "/"); host != "" && strings.Trim(host, ":") == "" {
			// "::" (or ":") became "https://::": no host at all.
			return nil, kinded(ErrInvalidInput, "%q: not a host", redactText(raw))
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, kinded(ErrUnsafeURL, "unsafe URL: cannot parse %q", redactText(raw))
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return nil, kinded(ErrUnsafeURL, "unsafe URL: %q is not an absolute http(s) URL", redactText(raw))
	case u.User != nil:
		return nil, kinded(ErrUnsafeURL, "unsafe URL: base URL must not hold credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, kinded(ErrUnsafeURL, "unsafe URL: base URL must not have a query or fragment")
	case !validHost(u):
		return nil, kinded(ErrInvalidInput, "%q: not a host", redactText(raw))
	case u.Scheme == "http" && !httpx.IsLoopback(u.Hostname()):
		return nil, kinded(ErrUnsafeURL, "unsafe URL: plain http is allowed only to loopback hosts, not %q", u.Host)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// validHost reports whether u names a host that can be dialled: an IP
// address other than the unspecified one (0.0.0.0, ::), or a DNS name of
// letters, digits, hyphens and underscores in dot-separated labels that
// do not start or end with a hyphen; and a port, if any, from 1 to 65535.
// "::" or "-q" (an unset variable before a flag) is not one.
func validHost(u *url.URL) bool {
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return false
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); ip != nil {
		return !ip.IsUnspecified()
	}
	if h == "" || len(h) > 253 || strings.Contains(u.Host, "[") {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// scrub replaces every credential the client holds that occurs in s.
func (c *Client) scrub(s string) string {
	for _, k := range c.secrets {
		if len(k) >= 4 && strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, "REDACTED")
		}
	}
	return s
}
