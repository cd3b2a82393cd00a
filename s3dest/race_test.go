//go:build race

package s3dest_test

// raceOn: the race detector slows hashing some tenfold; the 1 GiB case
// runs without it.
const raceOn = true
