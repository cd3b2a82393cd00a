// Package exportjob runs recurring vendor exports durably: every job run is
// a row in a SQLite store, moved from state to state one committed
// transaction at a time, so that a process killed at any moment (SIGKILL
// included) is taken up by the next one without creating a vendor export
// twice.
//
// A [Job] runs once per period (Every, aligned to UTC multiples of it). A
// run's fingerprint, the job's name and the period's start, is the store's
// primary key: a rerun, an overlapping cron entry or a second process
// cannot plan the same run twice, and a run is driven by one process at a
// time, the one holding its lease.
//
// A run goes
//
//	planned → creating → created → waiting → downloading → done
//
// or ends failed, expired or parked. "creating" is a durable intent,
// written before the create request leaves: its time, its idempotency key
// and the parameters. A run found in "creating" after a crash, or whose
// create reply was lost, is reconciled first: the vendor is asked what it
// already holds that this intent could have made (Orbit by the run's
// Idempotency-Key, Memsolus and Brainbase by the echoed filters and a
// creation time at or after the intent, Kore by the bot's latest export).
// One candidate is adopted; two, or none where the create may have
// landed, park the run for a person, with the candidates: nothing is
// guessed and nothing is created again.
//
// Waits store the SDK's resume token ([exportkit.Waiter.ResumeToken]) and
// the next poll time; downloads go through [exportkit.Client.DownloadFile],
// which resumes an interrupted transfer, and are published by a rename
// only once complete and verified. The store records each file's size,
// SHA-1 and, where the vendor reports one, its row count.
//
// With [WithDestination], a run's file goes instead to the destination
// the engine is given for it (an S3 object: package s3dest) through
// [exportkit.Client.DownloadTo]; the destination's resume state (an
// upload id, its part plan, the hash state of the verified prefix) is
// kept in the store beside the run until the run is done, so that a sync
// killed mid-upload is gone on with by the next, which sends only what is
// missing. The destination publishes before the run is marked done.
//
// An expired export's run is planned again, with a new intent, at most
// [WithMaxRecreates] times; then it stays expired.
//
// The engine is vendor-blind: each vendor plugs in through the small
// [Vendor] method set, one file per vendor in this package.
package exportjob
