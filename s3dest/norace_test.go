//go:build !race

package s3dest_test

const raceOn = false
