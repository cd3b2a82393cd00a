// Package exporttest is a fake of the four vendor export APIs that exportkit
// speaks (Brainbase, Memsolus, Leadpipe Orbit and Kore.ai), plus the storage
// host their signed download URLs point at.
//
// A Server keeps real state: exports move from pending to running to ready
// (or failed) over status reads or time, ready exports have real file bytes,
// the storage host honours Range, If-Match and If-Range and sends ETag,
// Content-Length and, for Orbit, X-Bz-Content-Sha1. Credentials are checked
// the way each vendor checks them, every request is recorded, and faults are
// injected on demand:
//
//	srv := exporttest.NewServer(exporttest.ReadyAfter(3))
//	defer srv.Close()
//	c := srv.Client()
//	srv.Inject(exporttest.On(exportkit.Kore).Path("/status").Status(429).RetryAfter("3").Times(2))
//	srv.Inject(exporttest.OnStorage().ResetAfter(1 << 10))
//
// The API answers on http://localhost:PORT (all four vendors on one host,
// routed by path) and the storage host on http://127.0.0.1:PORT2, a different
// host name, so that a client which forwards credentials across hosts is
// caught by [Server.Requests].
//
// The files look like the vendors' (CSV, JSON arrays, Markdown, a zip for
// Kore) with the row counts the statuses report. [LoseCreateReplies] and
// [Server.LoseNextCreateReplies] carry a create out and then cut the
// connection before its reply, as a client that must reconcile sees it.
// [Server.Exports] and [Server.Requests] (also served as JSON under
// [AdminPath]) tell what the Server holds and received.
//
// With [InMemory] no socket is opened: [Server.Transport] dispatches requests
// to the handlers in-process, which lets tests run inside a testing/synctest
// bubble with a fake clock. Create the server inside the bubble.
package exporttest
