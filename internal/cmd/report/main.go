// Command report prints exportkit's quality report: every measurement of
// QUALITY.md items 16 to 19 and the loopback half of item 24, run in one
// process on loopback, as a table of figure, goal, measured value and PASS
// or FAIL, with the date and the machine. It exits 1 when a goal is missed.
//
//	go run ./internal/cmd/report
//
// It takes one to three minutes: 64 MiB and 1 GiB downloads against bare
// copies, a 1 GiB download in parts, the CLI's peak RSS for 4 GiB to a
// file and to stdout, the polling simulation on a fake clock, and 10,000
// concurrent waits.
package main

import "github.com/exportkit/exportkit/internal/gotest"

func main() { gotest.Main("report", "TestReport", "-bench.report") }
