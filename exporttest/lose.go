package exporttest

import (
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
)

// Lost create replies: the create is carried out (the export or run exists
// and shows in listings), then the connection is cut before the reply, as
// when a proxy or the network drops it. A client cannot tell whether its
// create landed; the request log shows status 0.

// LoseCreateReplies makes that share of create requests (Brainbase and
// Memsolus create, Orbit run create, Kore start) lose their reply: the
// create is carried out, then the connection is cut before the status line.
// Which ones are lost is pseudo-random but deterministic for a given
// [Seed]. A rate of 0 (the default) loses none; a rate of 1 loses every
// one. A rate below 0 or NaN counts as 0, above 1 as 1. See also
// [Server.LoseNextCreateReplies].
func LoseCreateReplies(rate float64) Option {
	return func(c *config) {
		switch {
		case math.IsNaN(rate) || rate < 0:
			rate = 0
		case rate > 1:
			rate = 1
		}
		c.loseRate = rate
	}
}

// Seed seeds the Server's pseudo-random choices (which create replies
// [LoseCreateReplies] loses), so that a scenario repeats exactly. The
// default seed is 1.
func Seed(seed uint64) Option {
	return func(c *config) { c.seed = seed }
}

// lossState decides which create replies are lost.
type lossState struct {
	mu   sync.Mutex
	rate float64
	rng  *rand.Rand
	next int // forced losses still to come
	lost int // replies lost so far
}

func (l *lossState) init(c config) {
	l.rate = c.loseRate
	l.rng = rand.New(rand.NewPCG(c.seed, 0x6578706f72747465)) // "exportte"
}

// take reports whether the reply of the create being answered is lost.
func (l *lossState) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lose := false
	switch {
	case l.next > 0:
		l.next--
		lose = true
	case l.rate > 0:
		lose = l.rng.Float64() < l.rate
	}
	if lose {
		l.lost++
	}
	return lose
}

// LoseNextCreateReplies makes the next n create requests (Brainbase and
// Memsolus create, Orbit run create, Kore start, of any vendor) lose their
// reply, whatever the rate of [LoseCreateReplies]: each is carried out,
// then its connection is cut before the reply. Calls add up; n <= 0 cancels
// the losses still to come.
//
// net/http's transport replays a request that carries an Idempotency-Key
// (Orbit's run create) once when a reused connection closes before the
// answer, so such a create may use up two losses.
func (s *Server) LoseNextCreateReplies(n int) {
	s.lose.mu.Lock()
	if n <= 0 {
		s.lose.next = 0
	} else {
		s.lose.next += n
	}
	s.lose.mu.Unlock()
}

// LostCreateReplies is how many create replies the Server has cut so far.
func (s *Server) LostCreateReplies() int {
	s.lose.mu.Lock()
	defer s.lose.mu.Unlock()
	return s.lose.lost
}

// createReply answers a create that was carried out: its JSON reply, or,
// when the reply is to be lost, a cut connection (with sockets the
// connection is hijacked and closed; in memory the round trip fails with a
// connection reset).
func (s *Server) createReply(w http.ResponseWriter, code int, v any) {
	if s.lose.take() {
		hangup(w, false)
		return
	}
	writeJSON(w, code, v)
}
