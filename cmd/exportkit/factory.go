package main

import (
	"io"
	"os"
	"strings"

	"github.com/exportkit/exportkit"
)

// A factory is the one place that builds what commands take from outside
// themselves: the output streams, the progress board on stderr and SDK
// clients from the environment. A command gets it from dispatch and asks
// it, rather than reading os.Stdout or os.Getenv itself, so that every
// command builds them the same way.
type factory struct {
	stdout, stderr io.Writer
	// getenv reads the environment (os.Getenv).
	getenv func(string) string
}

// newFactory is the factory of a command line writing to stdout and
// stderr.
func newFactory(stdout, stderr io.Writer) *factory {
	return &factory{stdout: stdout, stderr: stderr, getenv: os.Getenv}
}

// credentialEnv lists the environment variables each vendor's credential
// is read from.
var credentialEnv = map[exportkit.Vendor][]string{
	exportkit.Brainbase: {exportkit.EnvBrainbaseAPIKey},
	exportkit.Memsolus:  {exportkit.EnvMemsolusAPIKey},
	exportkit.Orbit:     {exportkit.EnvLeadpipeAPIKey},
	exportkit.Kore:      {exportkit.EnvKoreClientID, exportkit.EnvKoreClientSecret},
}

// client checks that v's credential is there before anything is sent,
// and builds a client for v, at baseURL when it is not "".
func (f *factory) client(v exportkit.Vendor, baseURL string, extra ...exportkit.Option) (*exportkit.Client, error) {
	var missing []string
	for _, env := range credentialEnv[v] {
		if strings.TrimSpace(f.getenv(env)) == "" {
			missing = append(missing, env)
		}
	}
	if len(missing) > 0 {
		return nil, usageErrorf("%s: no credentials: set %s", v, strings.Join(missing, " and "))
	}
	opts := []exportkit.Option{exportkit.WithUserAgent("exportkit-cli")}
	if baseURL != "" {
		opts = append(opts, exportkit.WithBaseURL(v, baseURL))
	}
	c, err := exportkit.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, &usageError{strings.TrimPrefix(err.Error(), "exportkit: ")}
	}
	return c, nil
}

// board is the progress board of a command on stderr: bars on a
// terminal, lines otherwise, nothing when quiet.
func (f *factory) board(quiet bool) board { return newBoard(f.stderr, quiet) }
