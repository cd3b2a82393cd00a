package s3dest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/s3dest"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want s3dest.Target
	}{
		{"s3://b/k.csv", s3dest.Target{Bucket: "b", Key: "k.csv"}},
		{"s3://b/dir/k.csv?region=eu-west-1", s3dest.Target{Bucket: "b", Key: "dir/k.csv", Region: "eu-west-1"}},
		{"s3://b/k?endpoint=http://127.0.0.1:7070&use_path_style=true&disable_https=true",
			s3dest.Target{Bucket: "b", Key: "k", Endpoint: "http://127.0.0.1:7070", PathStyle: true, DisableHTTPS: true}},
		{"s3://b/k?endpoint=minio.local:9000&disable_https=true",
			s3dest.Target{Bucket: "b", Key: "k", Endpoint: "http://minio.local:9000", DisableHTTPS: true}},
		{"s3://b/k?endpoint=r2.example.com", s3dest.Target{Bucket: "b", Key: "k", Endpoint: "https://r2.example.com"}},
	} {
		got, err := s3dest.Parse(tc.raw, false)
		require.NoError(t, err, tc.raw)
		assert.Equal(t, tc.want, got, tc.raw)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, raw := range []string{
		"s3:///k.csv",               // missing bucket
		"s3://b",                    // missing key
		"s3://b/",                   // missing key
		"s3://b/dir/",               // a prefix, not a key
		"gs://b/k",                  // unknown scheme
		"file:///tmp/x",             // not s3
		"s3://b/k?acl=public-read",  // unknown query parameter
		"s3://b/k?use_path_style=9", // not a boolean
		"s3://b/k?endpoint=ftp://x", // not http(s)
		"s3://b/k?endpoint=http://x",
		"s3://AKIA:secret@b/k", // credentials in the URL
		"s3://b/k?endpoint=http://u:p@x&disable_https=true",
		"://",
	} {
		_, err := s3dest.Parse(raw, false)
		require.ErrorIs(t, err, exportkit.ErrInvalidInput, raw)
		assert.NotContains(t, err.Error(), "secret", raw)
		_, err = s3dest.New(context.Background(), raw)
		require.ErrorIs(t, err, exportkit.ErrInvalidInput, raw)
	}
	_, err := s3dest.Parse("s3://b/dir/", true)
	require.NoError(t, err, "a prefix for Clean")
	_, err = s3dest.New(context.Background(), "s3://b/k", s3dest.WithMemoryLimit(0))
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
	_, err = s3dest.New(context.Background(), "s3://b/k", s3dest.WithStateFile(""))
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
}
