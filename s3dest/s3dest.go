// Package s3dest delivers an export straight into an S3 bucket (AWS S3 or
// any store that speaks its API: MinIO, Cloudflare R2, Backblaze B2,
// Wasabi, Ceph, Versity): a [exportkit.Destination] for
// [exportkit.Client.DownloadTo].
//
// Each range read from the vendor's storage becomes one part of a
// multipart upload, uploaded as soon as it is read, in any order; nothing
// is staged on disk, and memory holds at most connections × part size
// bytes of parts ([WithMemoryLimit] lowers it).
//
// Those bytes are one buffer per connection, allocated once when the
// upload starts, reused part after part and freed when it ends. On Linux,
// macOS and the BSDs they are an anonymous mapping outside the Go heap
// (elsewhere, and under the race detector, on it): with GOGC=100 a heap of 128 MiB of parts may grow
// toward twice that before the collector runs, while off the heap the
// parts cost their size and the heap stays a few MiB. A part goes to
// UploadPart as a seekable body with its CRC-64/NVME in a header and an
// unsigned payload, so the SDK neither copies, buffers nor hashes it, and
// rewinds it to retry; the body is cut off from its buffer before the
// buffer takes the next part, since net/http may read a request's body
// after the response came. The rest of a process's memory is its own:
// the exportkit command's peak RSS is connections × part size plus about
// 20 MiB, most of it its code and the Go runtime (README.md, "Into S3").
//
// The object becomes visible only
// once it is complete and verified three ways: its size (given to
// CompleteMultipartUpload, which S3 checks), the vendor's SHA-1 where it
// gives one (hashed in order beside the transfer), and the store's own
// full-object CRC-64/NVME, which the store checks against the parts. An
// existing object is never overwritten unless [WithForce] is given
// (If-None-Match: * on the request that publishes it). A file smaller than
// one part is one PutObject.
//
// A delivery that fails, is cancelled or does not verify aborts its upload
// (no orphan parts). One that is killed leaves a small state, in a file
// ([WithStateFile]) or any [StateStore] ([WithStateStore]; package
// exportjob keeps it in its SQLite store): the next delivery of the same
// export to the same object lists the upload's parts and uploads only
// those missing, and one killed after it published the object finds the
// object its own instead of refusing it as existing. [Clean]
// aborts the uploads a killed delivery left (with [WithStateFiles], only
// those a state file records: the store cannot tell exportkit's uploads
// from another tool's), and the bucket lifecycle rule
// AbortIncompleteMultipartUpload does it on the store's side.
//
// Credentials and region come from the AWS SDK's default chain
// (environment, shared files, SSO, IMDS). They go only to the store; the
// vendor's credentials never reach it.
package s3dest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/errkind"
)

// S3's multipart limits.
const (
	MinPartSize = 5 << 20 // every part but the last
	MaxParts    = 10000
)

// abortTimeout bounds the abort of a failed upload, on a context of its
// own: the caller's may be what ended the upload.
const abortTimeout = 30 * time.Second

// ErrExists: the object exists and WithForce was not given.
var ErrExists = errors.New("exportkit: s3: the object exists")

// metaKey marks the uploads exportkit creates (object metadata
// x-amz-meta-exportkit-source: the export's vendor and id).
const metaKey = "exportkit-source"

// Destination is an S3 object that an export is delivered to.
type Destination struct {
	s3     *s3.Client
	target Target
	cfg    options
}

type options struct {
	force       bool
	noResume    bool
	state       StateStore // where the resume state is kept; nil: nowhere
	stateKey    string
	memory      int64
	statePath   func(key string) string // Clean's WithStateFiles
	credentials aws.CredentialsProvider
	httpClient  *http.Client
	clientOpts  []func(*s3.Options)
	errs        []error
}

// Option configures a Destination or Clean.
type Option func(*options)

// WithForce overwrites an existing object.
func WithForce() Option { return func(o *options) { o.force = true } }

// WithStateFile keeps the resume state of a multipart upload in path while
// it runs: a delivery that is killed leaves it, and the next delivery of
// the same export to the same object goes on from the parts already
// uploaded. It holds the upload id, the part plan, the parts done and the
// hash state of the verified prefix; no URL, no credential. Without it a
// killed delivery cannot be resumed (Clean aborts what it left).
func WithStateFile(path string) Option {
	return func(o *options) {
		if path == "" {
			o.bad("WithStateFile: empty path")
			return
		}
		o.state, o.stateKey = fileStore{}, path
	}
}

// WithoutResume starts a new upload even when the state file describes
// one that could be gone on from; the earlier upload is aborted.
func WithoutResume() Option { return func(o *options) { o.noResume = true } }

// WithMemoryLimit caps the bytes of parts held in memory at once: the
// ranges read at once are cut to n / part size (at least one part). The
// default is connections × part size.
func WithMemoryLimit(n int64) Option {
	return func(o *options) {
		if n <= 0 {
			o.bad("WithMemoryLimit(%d): must be positive", n)
			return
		}
		o.memory = n
	}
}

// WithCredentials uses p instead of the AWS default chain's credentials.
func WithCredentials(p aws.CredentialsProvider) Option {
	return func(o *options) { o.credentials = p }
}

// WithHTTPClient sends the store's requests with c.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithS3Options adjusts the S3 client's options (retries, an API
// middleware, the endpoint) after the URL's.
func WithS3Options(f func(*s3.Options)) Option {
	return func(o *options) {
		if f != nil {
			o.clientOpts = append(o.clientOpts, f)
		}
	}
}

func (o *options) bad(format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf(format, args...))
}

func newOptions(opts []Option) (options, error) {
	var o options
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if len(o.errs) > 0 {
		return o, &errkind.Error{Msg: "exportkit: s3: " + errors.Join(o.errs...).Error(), Kinds: []error{exportkit.ErrInvalidInput}}
	}
	return o, nil
}

// New returns the destination that rawURL names:
// s3://BUCKET/KEY?endpoint=URL&region=R&use_path_style=true&disable_https=true.
// A bad URL or option is an error matching exportkit.ErrInvalidInput; the
// AWS configuration is read from the default chain, but nothing is sent.
func New(ctx context.Context, rawURL string, opts ...Option) (*Destination, error) {
	t, err := Parse(rawURL, false)
	if err != nil {
		return nil, err
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	c, err := newClient(ctx, t, o)
	if err != nil {
		return nil, err
	}
	return &Destination{s3: c, target: t, cfg: o}, nil
}

// URL is the destination's s3:// URL, without its query.
func (d *Destination) URL() string { return d.target.String() }

// newClient builds the S3 client for t from the AWS default chain.
func newClient(ctx context.Context, t Target, o options) (*s3.Client, error) {
	var lo []func(*config.LoadOptions) error
	if t.Region != "" {
		lo = append(lo, config.WithRegion(t.Region))
	}
	if o.credentials != nil {
		lo = append(lo, config.WithCredentialsProvider(o.credentials))
	}
	if o.httpClient == nil {
		// Parts go up on as many connections as there are ranges read.
		lo = append(lo, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConnsPerHost = 64
		})))
	}
	// The SDK's own log lines (its IMDS client's "falling back to IMDSv1",
	// say) would land on the program's stderr: errors say what failed.
	lo = append(lo, config.WithLogger(logging.Nop{}))
	ac, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("exportkit: s3: AWS configuration: %w", err)
	}
	// Credentials are looked for now, once (the SDK caches them), so that
	// none at all is said plainly, before anything else is sent.
	if ac.Credentials == nil {
		return nil, noCredentials(t, errors.New("the AWS configuration has no credentials provider"))
	}
	if _, err := ac.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("exportkit: s3: AWS credentials: %w", err)
		}
		return nil, noCredentials(t, err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	return s3.NewFromConfig(ac, func(so *s3.Options) {
		if t.Endpoint != "" {
			so.BaseEndpoint = aws.String(t.Endpoint)
		}
		so.UsePathStyle = t.PathStyle
		if o.httpClient != nil {
			so.HTTPClient = o.httpClient
		}
		// The parts carry their CRC-64/NVME, computed here: the SDK need
		// not compute another checksum of its own.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		for _, f := range o.clientOpts {
			f(so)
		}
	}), nil
}

// noCredentials is the error of an AWS default chain that found no
// credentials: what to set, then the chain's own words (which name no
// secret), matching exportkit.ErrUnauthorized.
func noCredentials(t Target, cause error) error {
	return &errkind.Error{
		Msg: fmt.Sprintf("exportkit: s3: no AWS credentials for %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "+
			"or AWS_PROFILE (the shared config and credentials files, SSO), or run where an instance or task role applies (%v)", t, cause),
		Kinds: []error{exportkit.ErrUnauthorized},
		Cause: cause,
	}
}

// storeError is the message of an error from the store, with the
// operation and the object, matching the exportkit sentinel that fits.
func (d *Destination) storeError(op string, err error) error {
	if err == nil {
		return nil
	}
	var kinds []error
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "InvalidSecurity":
			kinds = append(kinds, exportkit.ErrUnauthorized)
		case "AccessDenied", "AllAccessDisabled":
			kinds = append(kinds, exportkit.ErrForbidden)
		case "NoSuchBucket", "NoSuchUpload", "NotFound", "NoSuchKey":
			kinds = append(kinds, exportkit.ErrNotFound)
		case "PreconditionFailed", "ConditionalRequestConflict":
			kinds = append(kinds, ErrExists)
		}
	}
	var re *awshttp.ResponseError
	if len(kinds) == 0 && errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusUnauthorized:
			kinds = append(kinds, exportkit.ErrUnauthorized)
		case http.StatusForbidden:
			kinds = append(kinds, exportkit.ErrForbidden)
		case http.StatusNotFound:
			kinds = append(kinds, exportkit.ErrNotFound)
		case http.StatusPreconditionFailed:
			kinds = append(kinds, ErrExists)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		kinds = append(kinds, context.DeadlineExceeded)
	}
	if errors.Is(err, context.Canceled) {
		kinds = append(kinds, context.Canceled)
	}
	msg := err.Error()
	if i := strings.Index(msg, "api error "); i >= 0 {
		msg = msg[i+len("api error "):] // "InvalidAccessKeyId: The AWS Access Key Id you provided does not exist"
	}
	if ae != nil && (ae.ErrorCode() == "Forbidden" || ae.ErrorCode() == "Unauthorized") {
		// An answer without a body (HEAD) says no more than its status.
		msg = ae.ErrorCode() + ": the store refused these credentials or their permissions " +
			"(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the bucket's policy)"
	}
	return &errkind.Error{Msg: fmt.Sprintf("exportkit: s3: %s %s: %s", op, d.target, excerpt(msg, 400)), Kinds: kinds, Cause: err}
}
