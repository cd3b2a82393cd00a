// Command syncscale runs many job runs in one sync of one exportjob engine
// against the exporttest fake on loopback, and prints the wall time, the
// peak heap and RSS, and the busiest second of requests per vendor
// (issue 17: "1,000 job runs in one sync on this machine").
//
//	go run ./internal/cmd/syncscale [-runs 1000] [-concurrency 64]
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	runs := flag.Int("runs", 1000, "job runs in one sync (a quarter per vendor)")
	concurrency := flag.Int("concurrency", 64, "runs driven at once")
	flag.Parse()
	if err := scale(*runs, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "syncscale:", err)
		os.Exit(1)
	}
}
