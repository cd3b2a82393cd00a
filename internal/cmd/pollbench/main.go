// Command pollbench prints the polling measurements of QUALITY.md item 18:
// requests per wait and detection lag for the default schedule and for a
// fixed 5 s poll, over ready times drawn from U[2s,60s] and U[60s,900s],
// and how far 1,000 waits started together stay in lockstep, each goal
// marked PASS or FAIL.
//
// The simulation runs on testing/synctest's fake clock, which exists only
// inside tests, so this command runs the test that holds it:
//
//	go test -v -run '^TestPollBench$' -count=1 ./internal/bench -args -bench.poll
//
// from the module root, streaming its output and exiting with its status.
// Arguments are passed on to the test, for example:
//
//	go run ./internal/cmd/pollbench -bench.waits=10000 -bench.burst=1000
package main

import "github.com/exportkit/exportkit/internal/gotest"

func main() { gotest.Main("pollbench", "TestPollBench", "-bench.poll") }
