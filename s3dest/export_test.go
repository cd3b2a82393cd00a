package s3dest

import "time"

// SetCheckpointEvery sets the time between state files for a test and
// returns the previous value.
func SetCheckpointEvery(d time.Duration) time.Duration {
	old := checkpointEvery
	checkpointEvery = d
	return old
}
