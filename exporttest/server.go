package exporttest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/exportkit/exportkit"
)

// The fixed hosts of an [InMemory] server. No socket listens on them: only
// [Server.Transport] reaches them.
const (
	InMemoryAPIHost     = "localhost:48080"
	InMemoryStorageHost = "127.0.0.1:48081"
)

// Server is a fake of the four vendor APIs and of their storage host. Create
// it with [NewServer] and stop it with [Server.Close]. All its methods are
// safe for concurrent use.
type Server struct {
	cfg    config
	secret []byte // signs storage URLs
	orgID  string // Orbit organization
	koreBy string // Kore createdBy user
	routes map[exportkit.Vendor][]route

	mu      sync.Mutex // guards the state below
	exports map[refKey]*export
	all     []*export                      // every export and run, oldest first
	lists   map[exportkit.Vendor][]*export // Brainbase and Memsolus, oldest first
	runs    map[string][]*export           // Orbit audience id → runs, oldest first
	idem    map[string]*export             // Orbit audience id + Idempotency-Key → run
	bots    map[string][]*export           // Kore bot id → exports, oldest first
	files   map[string]*export             // storage path → export
	urlGen  int

	reqMu sync.Mutex
	reqs  []*Request

	lose lossState // lost create replies

	faultMu sync.Mutex
	faults  []*activeFault

	jtis jtiLog

	apiURL, storageURL   string
	apiHost, storageHost string
	apiSrv, storageSrv   *httptest.Server // nil in memory
	mem                  *memTransport    // nil with sockets
	transport            *http.Transport  // client side of the sockets
	storageTransport     *http.Transport

	done      chan struct{} // closed by Close: ends stalls
	closeOnce sync.Once
}

// Request is one request the Server received, API or storage.
type Request struct {
	Method   string
	Host     string // the Host header: localhost:PORT for the API, 127.0.0.1:PORT for storage
	Path     string // the path as sent, still escaped
	RawQuery string
	Header   http.Header      // a copy
	Storage  bool             // true for the storage host
	Vendor   exportkit.Vendor // whose API it was for; "" for storage and unknown paths
	Time     time.Time        // when it arrived, from time.Now
	// Status is the HTTP status the Server answered with; 0 while the
	// answer is still being written, and 0 when the connection was cut
	// (a lost create reply, a Hangup or a ResetAfter fault).
	Status int
	// Bytes is how many body bytes the Server sent in its answer so far.
	Bytes int64
}

// NewServer starts a fake of the four vendor APIs on http://localhost:PORT
// and a storage host on http://127.0.0.1:PORT2 (or, with [InMemory], the
// same URLs served in-process). If loopback sockets cannot be opened it
// falls back to in-memory serving.
func NewServer(opts ...Option) *Server {
	s := newServer(opts)
	if s.cfg.inMemory || s.listen(nil) != nil {
		s.cfg.inMemory = true
		s.mem = &memTransport{s: s, active: map[*exchange]struct{}{}}
		s.apiHost, s.storageHost = InMemoryAPIHost, InMemoryStorageHost
		s.apiURL, s.storageURL = "http://"+s.apiHost, "http://"+s.storageHost
	}
	return s
}

// NewServerAt starts a Server whose API listens on addr (HOST:PORT; port 0
// picks a free one) and whose storage host listens on another free port of
// the same host, as the exportkit fake command does. Unlike [NewServer] it never
// falls back to in-memory serving: an address it cannot listen on is an
// error, and so is the [InMemory] option. The API's URL names the host
// "localhost" when addr is on 127.0.0.1 or ::1, so that it differs from the
// storage host's.
func NewServerAt(addr string, opts ...Option) (*Server, error) {
	s := newServer(opts)
	if s.cfg.inMemory {
		return nil, errors.New("exporttest: NewServerAt listens on sockets: InMemory does not apply")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("exporttest: listen on %q: %w", addr, err)
	}
	api, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("exporttest: %w", err)
	}
	st, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		_ = api.Close()
		return nil, fmt.Errorf("exporttest: %w", err)
	}
	if err := s.listen(&[2]net.Listener{api, st}); err != nil {
		return nil, err
	}
	return s, nil
}

// newServer is a Server with opts applied, not serving yet.
func newServer(opts []Option) *Server {
	s := &Server{
		cfg:     defaultConfig(),
		secret:  make([]byte, 32),
		orgID:   newUUID(),
		koreBy:  "u-" + newUUID(),
		exports: map[refKey]*export{},
		lists:   map[exportkit.Vendor][]*export{},
		runs:    map[string][]*export{},
		idem:    map[string]*export{},
		bots:    map[string][]*export{},
		files:   map[string]*export{},
		done:    make(chan struct{}),
	}
	for _, o := range opts {
		if o != nil {
			o(&s.cfg)
		}
	}
	_, _ = rand.Read(s.secret)
	s.lose.init(s.cfg)
	s.routes = map[exportkit.Vendor][]route{
		exportkit.Brainbase: s.brainbaseRoutes(),
		exportkit.Memsolus:  s.memsolusRoutes(),
		exportkit.Orbit:     s.orbitRoutes(),
		exportkit.Kore:      s.koreRoutes(),
	}
	return s
}

// listen starts serving on the API and storage listeners ls, or on two
// loopback listeners of its own when ls is nil.
func (s *Server) listen(ls *[2]net.Listener) error {
	if ls == nil {
		api, err := loopback()
		if err != nil {
			return err
		}
		st, err := loopback()
		if err != nil {
			_ = api.Close()
			return err
		}
		ls = &[2]net.Listener{api, st}
	}
	api, st := ls[0], ls[1]
	quiet := log.New(io.Discard, "", 0)
	s.apiSrv = &httptest.Server{Listener: api, Config: &http.Server{Handler: http.HandlerFunc(s.serveAPI), ErrorLog: quiet}}
	s.storageSrv = &httptest.Server{Listener: st, Config: &http.Server{Handler: http.HandlerFunc(s.serveStorage), ErrorLog: quiet}}
	// The handlers read the URLs (signed URLs name the storage host): set
	// them before the first handler can run, not after Start.
	host, port, _ := net.SplitHostPort(api.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		host = "localhost"
	}
	s.apiHost, s.storageHost = net.JoinHostPort(host, port), st.Addr().String()
	s.apiURL, s.storageURL = "http://"+s.apiHost, "http://"+s.storageHost
	s.apiSrv.Start()
	s.storageSrv.Start()
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	s.storageTransport = http.DefaultTransport.(*http.Transport).Clone()
	s.storageTransport.DisableCompression = true
	return nil
}

func loopback() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return net.Listen("tcp6", "[::1]:0")
	}
	return l, nil
}

// URL is the base URL of all four vendor APIs: http://localhost:PORT.
func (s *Server) URL() string { return s.apiURL }

// StorageURL is the base URL of the storage host: http://127.0.0.1:PORT2, a
// different host name from URL.
func (s *Server) StorageURL() string { return s.storageURL }

// Transport reaches both hosts: the in-process transport with [InMemory],
// otherwise the loopback transport [Server.Client] uses.
func (s *Server) Transport() http.RoundTripper {
	if s.mem != nil {
		return s.mem
	}
	return s.transport
}

// HTTPClient returns a plain *http.Client that reaches both hosts, for tests
// that speak to the fake directly.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: s.Transport()}
}

// ClientOptions are the options [Server.Client] passes to exportkit.NewClient:
// every vendor's base URL set to URL, every vendor's credential, and HTTP
// clients for the API and the storage host built on [Server.Transport] (the
// storage one without compression). Each call returns new *http.Client
// values, so a client may change its own.
func (s *Server) ClientOptions() []exportkit.Option {
	storage := s.Transport()
	if s.storageTransport != nil {
		storage = s.storageTransport
	}
	return []exportkit.Option{
		exportkit.WithBaseURL(exportkit.Brainbase, s.apiURL),
		exportkit.WithBaseURL(exportkit.Memsolus, s.apiURL),
		exportkit.WithBaseURL(exportkit.Orbit, s.apiURL),
		exportkit.WithBaseURL(exportkit.Kore, s.apiURL),
		exportkit.WithBrainbaseAPIKey(BrainbaseAPIKey),
		exportkit.WithMemsolusAPIKey(MemsolusAPIKey),
		exportkit.WithOrbitAPIKey(OrbitAPIKey),
		exportkit.WithKoreApp(KoreClientID, KoreClientSecret),
		exportkit.WithHTTPClient(&http.Client{Transport: s.Transport()}),
		exportkit.WithStorageHTTPClient(&http.Client{Transport: storage}),
	}
}

// ClientE returns an *exportkit.Client pointed at the Server with valid
// credentials for all four vendors; extra options come last and win.
func (s *Server) ClientE(extra ...exportkit.Option) (*exportkit.Client, error) {
	return exportkit.NewClient(append(s.ClientOptions(), extra...)...)
}

// Client is [Server.ClientE] for the common case, in tests and examples
// where a bad option is the test's own bug: it panics, with NewClient's
// error wrapped (the panic value is an error), when exportkit.NewClient refuses an extra option, instead of
// returning a nil client that fails later and far away. Use ClientE to
// handle the error.
func (s *Server) Client(extra ...exportkit.Option) *exportkit.Client {
	c, err := s.ClientE(extra...)
	if err != nil {
		panic(fmt.Errorf("exporttest: Server.Client: %w", err))
	}
	return c
}

// Close stops the Server: stalled responses end, connections close, and it
// returns once no handler runs any more. Close may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.mem != nil {
			s.mem.close()
			return
		}
		for _, hs := range []*httptest.Server{s.apiSrv, s.storageSrv} {
			hs.CloseClientConnections()
			hs.Close()
		}
		s.transport.CloseIdleConnections()
		s.storageTransport.CloseIdleConnections()
	})
}

// sleep waits d, and reports false when ctx or the Server ended first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// Requests returns a copy of every request received so far, API and
// storage, in order of arrival (see [KeepRequests]).
func (s *Server) Requests() []Request {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = *r
		out[i].Header = r.Header.Clone()
	}
	return out
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.reqMu.Lock()
	s.reqs = nil
	s.reqMu.Unlock()
}

// record logs r and returns the writer the handler answers through: it
// fills in the record's Status once the handler returns.
func (s *Server) record(w http.ResponseWriter, r *http.Request, v exportkit.Vendor, storage bool) *statusWriter {
	sw := &statusWriter{ResponseWriter: w, s: s}
	keep := s.cfg.keepRequests
	if keep == 0 {
		return sw
	}
	rec := &Request{
		Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Storage: storage, Vendor: v, Time: time.Now(),
	}
	s.reqMu.Lock()
	s.reqs = append(s.reqs, rec)
	if keep > 0 && len(s.reqs) > keep {
		s.reqs = s.reqs[len(s.reqs)-keep:]
	}
	s.reqMu.Unlock()
	sw.rec = rec
	return sw
}

// statusWriter remembers the status a handler answered with, for the
// request log.
type statusWriter struct {
	http.ResponseWriter
	s      *Server
	rec    *Request // nil when requests are not kept
	status int
	cut    bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.set(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.set(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	if w.rec != nil && n > 0 {
		w.s.reqMu.Lock()
		w.rec.Bytes += int64(n)
		w.s.reqMu.Unlock()
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// markCut notes that the connection was cut: the request logs status 0.
func (w *statusWriter) markCut() {
	w.cut = true
	w.set(-1)
}

// set records the status before any byte of the answer leaves, so a client
// that has its answer finds it in the log. -1 marks a cut connection.
func (w *statusWriter) set(code int) {
	w.status = code
	if w.rec == nil {
		return
	}
	w.s.reqMu.Lock()
	w.rec.Status = max(code, 0)
	w.s.reqMu.Unlock()
}

// settle logs 200 for a handler that returned without writing anything, as
// net/http answers.
func (w *statusWriter) settle() {
	if w.status == 0 && !w.cut {
		w.set(http.StatusOK)
	}
}

// route is one API endpoint. A "*" segment in pattern is a parameter,
// passed unescaped to handle.
type route struct {
	method  string
	pattern string
	handle  func(w http.ResponseWriter, r *http.Request, params []string)
}

// segments splits an escaped path into unescaped segments. A segment that
// does not unescape is kept as sent, so it matches no id.
func segments(escaped string) []string {
	segs := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			segs[i] = u
		}
	}
	return segs
}

// vendorOf tells which vendor's API a path belongs to, or "".
func vendorOf(segs []string) exportkit.Vendor {
	has := func(prefix ...string) bool {
		if len(segs) < len(prefix) {
			return false
		}
		for i, p := range prefix {
			if segs[i] != p {
				return false
			}
		}
		return true
	}
	switch {
	case has("api", "team"):
		return exportkit.Brainbase
	case has("v1", "exports"):
		return exportkit.Memsolus
	case has("v1", "intent"):
		return exportkit.Orbit
	case has("api", "public"):
		return exportkit.Kore
	}
	return ""
}

// match reports whether segs fit pattern and returns the parameters.
func match(pattern string, segs []string) ([]string, bool) {
	parts := strings.Split(pattern, "/")
	if len(parts) != len(segs) {
		return nil, false
	}
	var params []string
	for i, p := range parts {
		switch {
		case p == "*" && segs[i] != "":
			params = append(params, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return params, true
}

// serveAPI is the API host: record, check the credential, apply a fault,
// route.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, AdminPath) {
		s.serveAdmin(w, r)
		return
	}
	segs := segments(r.URL.EscapedPath())
	v := vendorOf(segs)
	sw := s.record(w, r, v, false)
	defer sw.settle()
	w = sw
	if v == "" {
		http.NotFound(w, r)
		return
	}
	if msg := s.checkAuth(v, r.Header); msg != "" {
		s.writeError(w, v, http.StatusUnauthorized, "", msg)
		return
	}
	if f := s.takeFault(false, v, r); f != nil {
		if s.respondFault(w, r, f, func(code int, errCode, msg string) { s.writeError(w, v, code, errCode, msg) }) {
			return
		}
		w, r = s.withFault(w, r, f)
	}
	var allowed []string
	for _, rt := range s.routes[v] {
		params, ok := match(rt.pattern, segs)
		if !ok {
			continue
		}
		if rt.method == r.Method {
			rt.handle(w, r, params)
			return
		}
		allowed = append(allowed, rt.method)
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.writeError(w, v, http.StatusMethodNotAllowed, "", "")
		return
	}
	s.writeError(w, v, http.StatusNotFound, "", "Route "+r.Method+" "+r.URL.EscapedPath()+" not found")
}
