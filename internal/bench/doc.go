// Package bench holds exportkit's measurements that need a fake clock
// (testing/synctest works only inside tests, so they are tests). Run them
// with go run ./internal/cmd/pollbench; the normal test run does a small
// smoke version of each.
package bench
