// Package exporttemporal runs exportkit's create → wait → download on
// Temporal, so that a wait of hours or a large download survives the loss
// of the worker that started it.
//
// Register the activities and the workflow on a worker from one value:
//
//	acts := exporttemporal.NewActivities(client) // an *exportkit.Client
//	exporttemporal.Register(w, acts)             // w is a worker.Worker
//
// and start [ExportWorkflow] with an [ExportWorkflowInput]. By default the
// workflow waits with durable timers between short status activities, on
// exportkit's own polling schedule ([exportkit.PollSchedule]), so no
// activity runs for hours and a deploy in the middle of a wait loses
// nothing. [ExportWorkflowInput.WaitInActivity] waits instead inside one
// long activity that heartbeats exportkit's resume token: a retry on
// another worker takes the wait up from that token.
//
// Exports cross the activity boundary as an [ExportInfo]: vendor, ids,
// state, size and the exportkit resume token, from which any worker
// rebuilds the export without knowing its vendor type.
//
// Errors mean what Temporal needs: a failed, expired or canceled export and
// input the SDK refuses are non-retryable [temporal.ApplicationError]s with
// the types [ErrTypeExportFailed] and so on; a 429 carries the server's
// Retry-After as the next retry delay; transient failures are retryable.
//
// Creating an export twice: [ExportWorkflow]'s create activity is retried
// like any other. Orbit's run creation sends an Idempotency-Key derived
// from the workflow and activity ids, so a retried create returns the same
// run. Brainbase and Memsolus have no idempotency key: a create activity
// retried after its request reached the vendor (the worker died before
// reporting, say) leaves one more export job on the vendor's side, unused;
// the workflow goes on with the one its activity reported. Kore keeps one
// export per bot: a retried start replaces the export started before,
// which nobody waits on. See [Activities.CreateExport].
//
// Recurring jobs on many machines: [JobRunWorkflow] runs one run of an
// exportjob job (the jobs of `exportkit sync`'s manifest) with sync's
// guarantee that a run creates at most one export at the vendor.
// [StartJobRuns] starts each due run with the run's fingerprint
// ([exportjob.Fingerprint]) as its workflow id and a reuse policy under
// which Temporal refuses a second start of it. The run's intent (time and
// idempotency key, [exportjob.IdempotencyKey] of the fingerprint, sent as
// Orbit's Idempotency-Key: never a Temporal id) is in the history before
// its create activity runs, and that activity is never retried: a create
// that may have landed unseen (a lost reply, a lost worker) is reconciled
// through exportjob's own [exportjob.Vendor.Reconcile] first. One
// candidate is adopted; none, or two or more, park the run
// ([JobRunParked], with the candidates) for a person: nothing is guessed
// and nothing is created again. A job's runs resolve their creates one
// after the other ([Activities.AwaitPreviousRun]), each leaving out the
// exports the earlier ones own.
package exporttemporal
