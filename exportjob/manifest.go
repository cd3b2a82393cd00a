package exportjob

import (
	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/manifest"
)

// LoadManifest reads the `exportkit sync` manifest at path (YAML: its
// store, its files' directory and its jobs) and returns its jobs as the
// engine takes them, and the directory its files go to: an absolute path,
// or a URL kept as written (s3://BUCKET/PREFIX?…, file:///PATH). A
// manifest's `catchup: 0` (none) is a Job's negative Catchup. A file that
// cannot be read is an error wrapping the os error; anything wrong inside
// it matches [exportkit.ErrInvalidInput] and names the line.
func LoadManifest(path string) (jobs []Job, dir string, err error) {
	m, err := manifest.Load(path)
	if err != nil {
		return nil, "", err
	}
	return manifestJobs(m), m.Dir, nil
}

// manifestJobs are a loaded manifest's jobs as the engine takes them.
func manifestJobs(m *manifest.Manifest) []Job {
	jobs := make([]Job, 0, len(m.Jobs))
	for _, j := range m.Jobs {
		catchup := j.Catchup
		if catchup == 0 {
			catchup = -1 // the manifest's 0 is none; the engine's 0 is its default
		}
		jobs = append(jobs, Job{Name: j.Name, Vendor: exportkit.Vendor(j.Vendor), Every: j.Every,
			Catchup: catchup, Start: j.Start, Params: j.Params})
	}
	return jobs
}

// ManifestJobs are the jobs of a manifest the internal manifest package
// loaded, as the engine takes them (for the exportkit command, which
// loads the manifest itself to report its lines).
func ManifestJobs(m *manifest.Manifest) []Job { return manifestJobs(m) }
