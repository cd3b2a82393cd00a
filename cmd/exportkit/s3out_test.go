package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/exportkit/exportkit/internal/bench"
)

// TestS3StatePathCanonical: download and clean name an object's state
// file alike, whatever query the download's URL carried.
func TestS3StatePathCanonical(t *testing.T) {
	want := s3StatePath("s3://b/exports/x.csv")
	for _, out := range []string{
		"s3://b/exports/x.csv?endpoint=127.0.0.1%3A9000&use_path_style=true&disable_https=true",
		"s3://b/exports/x.csv?region=eu-west-1",
	} {
		assert.Equal(t, want, s3StatePath(out), out)
	}
	assert.NotEqual(t, want, s3StatePath("s3://b/exports/y.csv"))
}

// TestDownloadBadDestination: a destination URL that cannot be right is a
// usage error (exit 2) before any request.
func TestDownloadBadDestination(t *testing.T) {
	srv := exporttest.NewServer()
	defer srv.Close()
	for _, out := range []string{
		"s3:///key.csv",                   // missing bucket
		"gs://bucket/key.csv",             // unknown scheme
		"s3://bucket/key.csv?acl=private", // unknown query parameter
		"s3://bucket/",                    // missing key
	} {
		r := cli(t, srv, "download", "brainbase", "exp_1", "-o", out).must(t, exitUsage)
		assert.Contains(t, errorLine(t, r), "exportkit: ", out)
	}
	assert.Empty(t, srv.Requests(), "refused before any request")
}

// gatewayEnv returns the environment that points the AWS default chain at
// a Versity S3 gateway (the one EXPORTKIT_S3_ENDPOINT names, or one
// started here) with a bucket of the test's own, and the bucket's client.
func gatewayEnv(t *testing.T) (env []string, endpoint, bucket string, c *s3.Client) {
	t.Helper()
	endpoint = os.Getenv("EXPORTKIT_S3_ENDPOINT")
	access, secret := os.Getenv("EXPORTKIT_S3_ACCESS_KEY_ID"), os.Getenv("EXPORTKIT_S3_SECRET_ACCESS_KEY")
	if endpoint == "" {
		if bench.VersityGWPath() == "" {
			if os.Getenv("CI") == "true" {
				t.Fatal("versitygw is not installed, and CI=true: bash .ci/versitygw.sh install installs it")
			}
			t.Skip("versitygw is not installed (bash .ci/versitygw.sh install installs it)")
		}
		g, err := bench.StartVersityGW(context.Background(), t.TempDir())
		require.NoError(t, err)
		t.Cleanup(g.Stop)
		endpoint, access, secret = g.Endpoint, bench.VersityAccessKey, bench.VersitySecretKey
	}
	c = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, "")})
	bucket = "cli-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket})
	require.NoError(t, err)
	dir := t.TempDir()
	env = append(fakeEnv,
		"AWS_ACCESS_KEY_ID="+access, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "EXPORTKIT_STATE_DIR="+filepath.Join(dir, "state"))
	return env, endpoint, bucket, c
}

// TestDownloadToS3 delivers an export into a bucket, refuses to overwrite
// it without --force, and cleans nothing when nothing was left.
func TestDownloadToS3(t *testing.T) {
	env, endpoint, bucket, c := gatewayEnv(t)
	srv := exporttest.NewServer(exporttest.FileSize(12<<20 + 5))
	defer srv.Close()
	ref, err := srv.AddExport(exportkit.Orbit)
	require.NoError(t, err)
	id := ref.AudienceID + "/" + ref.RunID + "/" + ref.ID
	q := "?endpoint=" + url.QueryEscape(endpoint) + "&use_path_style=true&disable_https=true"
	dest := "s3://" + bucket + "/exports/orbit.csv" + q
	run := func(extra ...string) result {
		args := append([]string{"download", "orbit", id, "-o", dest, "--part-size", "5MiB", "--base-url", srv.URL()}, extra...)
		return runWith(t, env, args...)
	}

	r := run("--json").must(t, exitOK)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &v), r.stdout)
	assert.Equal(t, "s3://"+bucket+"/exports/orbit.csv", v["location"])
	assert.Equal(t, float64(12<<20+5), v["bytes"])
	assert.Equal(t, true, v["verified"])
	assert.Len(t, v["sha1"], 40)
	assert.NotEmpty(t, v["crc64nvme"])
	assert.Equal(t, float64(3), v["parts"])
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("exports/orbit.csv")})
	require.NoError(t, err)
	out.Body.Close()
	assert.Equal(t, int64(12<<20+5), aws.ToInt64(out.ContentLength))
	for _, text := range []string{r.stdout, r.stderr} {
		assert.NotContains(t, text, bench.VersitySecretKey)
		assert.NotContains(t, text, exporttest.OrbitAPIKey)
	}

	r = run().must(t, exitUsage)
	assert.Contains(t, errorLine(t, r), "--force")
	run("--force").must(t, exitOK)

	r = runWith(t, env, "clean", "s3://"+bucket+"/exports/"+q, "--older-than", "0s", "--json").must(t, exitOK)
	assert.JSONEq(t, `{"uploads": []}`, r.stdout)
	runWith(t, env, "clean", "s3://"+bucket+"/exports/"+q).must(t, exitUsage)

	// An upload that looks like exportkit's (a full-object CRC-64/NVME)
	// but that no state file records: listed, left alone.
	mu, err := c.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: &bucket,
		Key: aws.String("exports/another-tool.csv"), ChecksumAlgorithm: "CRC64NVME", ChecksumType: "FULL_OBJECT"})
	require.NoError(t, err)
	r = runWith(t, env, "clean", "s3://"+bucket+"/exports/"+q, "--older-than", "0s", "--json").must(t, exitOK)
	var cleaned struct{ Uploads []cleanView }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &cleaned), r.stdout)
	require.Len(t, cleaned.Uploads, 1)
	assert.True(t, cleaned.Uploads[0].Unrecorded)
	assert.False(t, cleaned.Uploads[0].Aborted)
	// --all aborts it too.
	r = runWith(t, env, "clean", "s3://"+bucket+"/exports/"+q, "--older-than", "0s", "--all", "--json").must(t, exitOK)
	cleaned.Uploads = nil
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &cleaned), r.stdout)
	require.Len(t, cleaned.Uploads, 1)
	assert.False(t, cleaned.Uploads[0].Unrecorded)
	assert.True(t, cleaned.Uploads[0].Aborted)
	_, err = c.ListParts(context.Background(), &s3.ListPartsInput{Bucket: &bucket,
		Key: aws.String("exports/another-tool.csv"), UploadId: mu.UploadId})
	require.Error(t, err, "clean --all left it open")

	// Wrong credentials: a clear error, without the secret.
	bad := append(append([]string{}, env...), "AWS_SECRET_ACCESS_KEY=not-the-right-secret-42")
	r = runWith(t, bad, "download", "orbit", id, "-o", "s3://"+bucket+"/other.csv"+q, "--base-url", srv.URL()).must(t, exitError)
	assert.NotContains(t, r.stderr, "not-the-right-secret-42")
	assert.Contains(t, errorLine(t, r), "s3://"+bucket+"/other.csv")
	t.Log(errorLine(t, r))
}
