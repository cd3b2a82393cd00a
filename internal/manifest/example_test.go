package manifest_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/exportkit/exportkit/internal/manifest"
)

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "manifest")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "exportkit.yaml")
	_ = os.WriteFile(path, []byte(`jobs:
  - name: logs
    vendor: brainbase
    format: csv
  - name: bot
    vendor: kore
    bot: st-123
    every: 7d
`), 0o600)

	m, err := manifest.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(m.Store), filepath.Base(m.Dir))
	for _, j := range m.Jobs {
		fmt.Println(j.Line, j.Name, j.Vendor, j.Every, j.Catchup, j.Params)
	}

	_ = os.WriteFile(path, []byte("jobs:\n  - name: logs\n    vendor: brainbase\n    every: 30s\n"), 0o600)
	_, err = manifest.Load(path)
	fmt.Println(err != nil, filepath.Base(err.(*manifest.Error).File), err.(*manifest.Error).Line)
	// Output:
	// exportkit.db exports
	// 2 logs brainbase 24h0m0s 7 map[format:CSV]
	// 5 bot kore 168h0m0s 7 map[bot:st-123]
	// true exportkit.yaml 4
}
