package exportjob

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

// memBucket is a fake object store behind a fake exportkit.Destination:
// what s3dest does, without AWS. A delivery uploads the file in parts to
// a staging area (an open multipart upload), saving its resume state in
// the state store the engine gives it after each part, then publishes the
// object; an object that exists is the delivery's own only when its saved
// state says it was publishing this export's file.
type memBucket struct {
	t         *testing.T
	mu        sync.Mutex
	objects   map[string][]byte
	staged    map[string][][]byte // the parts of the upload open per key
	ours      map[string]bool     // objects a delivery published (as s3dest's metadata tells)
	uploads   int                 // parts uploaded
	publishes int                 // objects written
	delivers  int                 // Deliver calls
	// during, when set, is called in Deliver after part n is uploaded; it
	// returns true to stop the delivery there, as a kill would.
	during func(ctx context.Context, key string, n int) bool
	// check, when set, is called at the start of each Deliver.
	check func(ctx context.Context, key string)
}

const memPart = 16 << 10

func newBucket(t *testing.T) *memBucket {
	return &memBucket{t: t, objects: map[string][]byte{}, staged: map[string][][]byte{}, ours: map[string]bool{}}
}

// option is the engine's WithDestination for this bucket, keys under
// "prefix/".
func (b *memBucket) option() Option {
	return WithDestination(func(_ context.Context, tg Target) (exportkit.Destination, string, error) {
		key := "prefix/" + tg.Name
		return &memObject{b: b, key: key, state: tg.State}, "mem://bucket/" + key, nil
	})
}

type memObject struct {
	b     *memBucket
	key   string
	state StateStore
}

// memState is the fake destination's resume state.
type memState struct {
	Source     string          `json:"source"`
	Parts      int             `json:"parts"` // parts uploaded and hashed
	Hash       json.RawMessage `json:"hash"`
	Publishing bool            `json:"publishing"`
}

var errMemExists = errors.New("exportkit: mem: the object exists")

func (o *memObject) save(ctx context.Context, st memState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return o.state.Save(ctx, o.key, b)
}

func (o *memObject) Deliver(ctx context.Context, t *exportkit.Transfer) (*exportkit.Delivery, error) {
	b := o.b
	b.mu.Lock()
	b.delivers++
	b.mu.Unlock()
	if b.check != nil {
		b.check(ctx, o.key)
	}
	var st memState
	if raw, err := o.state.Load(ctx, o.key); err != nil {
		return nil, err
	} else if raw != nil {
		require.NoError(b.t, json.Unmarshal(raw, &st))
	}
	if st.Source != t.Key() {
		st = memState{Source: t.Key()}
	}
	size := t.Size()
	b.mu.Lock()
	obj, exists := b.objects[o.key]
	b.mu.Unlock()
	if exists {
		// The object is this delivery's own only when it was publishing
		// this file: then its hashes are taken up and verified.
		if !st.Publishing || int64(len(obj)) != size || t.RestoreHash(st.Hash) != nil {
			return nil, errMemExists
		}
		if err := t.Verify(size); err != nil {
			return nil, err
		}
		t.Reused(size)
		return &exportkit.Delivery{Location: "mem://bucket/" + o.key, Bytes: size, Parts: len(b.staged[o.key]), Reused: size}, nil
	}
	if st.Parts > 0 {
		if err := t.RestoreHash(st.Hash); err != nil {
			return nil, err
		}
	}
	b.mu.Lock()
	staged := b.staged[o.key][:min(st.Parts, len(b.staged[o.key]))]
	b.mu.Unlock()
	for off := int64(len(staged)) * memPart; off < size; off += memPart {
		buf := make([]byte, min(memPart, size-off))
		if err := t.ReadAt(ctx, buf, off); err != nil {
			return nil, err
		}
		t.Hash(buf)
		staged = append(staged, buf)
		b.mu.Lock()
		b.staged[o.key] = staged
		b.uploads++
		b.mu.Unlock()
		h, err := t.HashState()
		if err != nil {
			return nil, err
		}
		st.Parts, st.Hash = len(staged), h
		if err := o.save(ctx, st); err != nil {
			return nil, err
		}
		if b.during != nil && b.during(ctx, o.key, len(staged)) {
			return nil, context.Cause(ctx)
		}
	}
	if err := t.Verify(size); err != nil {
		return nil, err
	}
	st.Publishing = true
	if err := o.save(ctx, st); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.objects[o.key] = bytes.Join(staged, nil)
	b.ours[o.key] = true
	b.publishes++
	b.mu.Unlock()
	if err := o.state.Delete(ctx, o.key); err != nil {
		return nil, err
	}
	return &exportkit.Delivery{Location: "mem://bucket/" + o.key, Bytes: size, Parts: len(staged)}, nil
}

// Published says whether a delivery published the object: someone else's
// is not reported, and Deliver refuses it.
func (o *memObject) Published(context.Context) (int64, string, bool, error) {
	o.b.mu.Lock()
	defer o.b.mu.Unlock()
	obj, ok := o.b.objects[o.key]
	if !ok || !o.b.ours[o.key] {
		return 0, "", false, nil
	}
	sum := sha1.Sum(obj)
	return int64(len(obj)), hex.EncodeToString(sum[:]), true, nil
}

// states counts the destination states the store holds.
func states(t *testing.T, e *Engine) int {
	var n int
	require.NoError(t, e.st.db.QueryRow(`SELECT count(*) FROM dest_state`).Scan(&n))
	return n
}

// requireDelivered checks that each run is done, its file the object at
// its location, byte-identical to the vendor's (but Orbit's, whose id is
// the run's), with the recorded size and SHA-1.
func (b *memBucket) requireDelivered(v *env, res map[string]Result, jobs ...string) {
	t := b.t
	t.Helper()
	for _, name := range jobs {
		r, ok := res[name]
		require.True(t, ok, "no result for %s", name)
		require.NoError(t, r.Err, name)
		require.Equal(t, StateDone, r.Run.State, name)
		key, ok := bytes.CutPrefix([]byte(r.Run.File), []byte("mem://bucket/"))
		require.True(t, ok, "location %q", r.Run.File)
		b.mu.Lock()
		obj := b.objects[string(key)]
		b.mu.Unlock()
		require.NotNil(t, obj, name)
		sum := sha1.Sum(obj)
		require.Equal(t, hex.EncodeToString(sum[:]), r.Run.SHA1, name)
		require.Equal(t, int64(len(obj)), r.Run.Size, name)
		if r.Run.Vendor != exportkit.Orbit {
			require.Equal(t, v.srv.File(r.Run.Vendor, r.Run.ExportID), obj, name)
		}
	}
}

// With a destination, every vendor's file goes to it, under the name the
// local layout gives it; the run is marked done only after Deliver
// returned, the destination's state is dropped with that commit, nothing
// is written into the engine's directory, and a second sync delivers
// nothing.
func TestDestinationDeliversEveryVendor(t *testing.T) {
	v := newEnv(t)
	b := newBucket(t)
	e := v.engine(v.client(), allJobs(), b.option())
	b.check = func(ctx context.Context, key string) {
		var state string
		require.NoError(t, e.st.db.QueryRowContext(ctx, `SELECT state FROM runs WHERE fingerprint = (SELECT fingerprint FROM runs
			WHERE 'prefix/' || job || '/' = substr(?, 1, length(job) + 8))`, key).Scan(&state))
		require.Equal(t, string(StateDownloading), state, "Deliver runs before the run is done")
	}
	var mu sync.Mutex
	delivered := 0
	e.hook = func(p string) {
		if p == "delivered" {
			mu.Lock()
			delivered++
			mu.Unlock()
		}
	}
	res := v.sync(e)
	b.requireDelivered(v, res, "logs", "memories", "audience", "bot")
	require.Equal(t, 4, delivered)
	require.Equal(t, "mem://bucket/prefix/logs/"+res["logs"].Run.Period.Start.Format("2006-01-02T15-04-05Z")+".csv", res["logs"].Run.File)
	require.Equal(t, 4, b.publishes)
	require.Zero(t, states(t, e), "the states are dropped with the done commit")
	_, err := os.Stat(v.dir)
	require.True(t, os.IsNotExist(err), "nothing in the engine's directory")
	require.Positive(t, res["logs"].Run.Rows)

	b.check = nil
	res = v.sync(v.engine(v.client(), allJobs(), b.option()))
	require.Empty(t, res)
	require.Equal(t, 4, b.delivers)
	require.Equal(t, one, v.creates())
}

// A sync stopped mid-delivery (its context cancelled after two parts, as
// a kill would stop it) leaves the destination's state in the store; a
// new engine on a new store handle (a restart) hands that state to the
// destination, which uploads only the missing parts. A sync stopped after
// Deliver published and before the done commit leaves the run
// downloading; the next delivers nothing twice: the destination finds the
// object its own from its state.
func TestDestinationResumeAndKillBeforeDone(t *testing.T) {
	j := allJobs()[1] // memsolus: 64 KiB, 4 parts
	for _, tc := range []struct {
		name string
		// stop arms the first sync's stop; uploads and publishes are the
		// parts uploaded and objects published that it leaves.
		stop               func(b *memBucket, e *Engine, cancel context.CancelFunc)
		uploads, publishes int
	}{
		{"mid-upload", func(b *memBucket, _ *Engine, cancel context.CancelFunc) {
			b.during = func(_ context.Context, _ string, n int) bool {
				if n == 2 {
					cancel()
					return true
				}
				return false
			}
		}, 2, 0},
		{"after publish, before the done commit", func(_ *memBucket, e *Engine, cancel context.CancelFunc) {
			e.hook = func(p string) {
				if p == "delivered" {
					cancel()
				}
			}
		}, 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			b := newBucket(t)
			e := v.engine(v.client(), []Job{j}, b.option())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tc.stop(b, e, cancel)
			res, err := e.Sync(ctx)
			require.NoError(t, err)
			require.Len(t, res, 1)
			require.ErrorIs(t, res[0].Err, context.Canceled)
			cur, err := e.st.get(context.Background(), res[0].Run.fingerprint)
			require.NoError(t, err)
			require.Equal(t, StateDownloading, cur.State, "not done before the commit")
			require.Equal(t, tc.uploads, b.uploads)
			require.Equal(t, tc.publishes, b.publishes)
			require.Equal(t, 1, states(t, e), "the state is in the store")

			b.during = nil
			e2 := v.engine(v.client(), []Job{j}, b.option())
			res2 := v.sync(e2)
			b.requireDelivered(v, res2, j.Name)
			require.Equal(t, 4, b.uploads, "only the missing parts went up")
			require.Equal(t, 1, b.publishes, "published once")
			require.Zero(t, states(t, e2))
			require.Equal(t, 1, v.creates()[j.Vendor])
		})
	}
}

// A store lost (deleted, made again) forgets the runs done; the next sync
// finds their objects at the destination (Published) and records the runs
// done from them: nothing is created at the vendor or delivered again.
func TestDestinationStoreLost(t *testing.T) {
	v := newEnv(t)
	b := newBucket(t)
	jobs := allJobs()
	first := v.sync(v.engine(v.client(), jobs, b.option()))
	for _, j := range jobs {
		b.requireDelivered(v, first, j.Name)
	}
	creates, delivers, publishes := v.creates(), b.delivers, b.publishes

	require.NoError(t, os.Remove(v.store))
	again := v.sync(v.engine(v.client(), jobs, b.option()))
	for _, j := range jobs {
		r, was := again[j.Name], first[j.Name]
		require.NoError(t, r.Err, j.Name)
		require.Equal(t, StateDone, r.Run.State, j.Name)
		require.Equal(t, was.Run.File, r.Run.File, j.Name)
		require.Equal(t, was.Run.Size, r.Run.Size, j.Name)
		require.Equal(t, was.Run.SHA1, r.Run.SHA1, j.Name)
	}
	require.Equal(t, creates, v.creates(), "no export created again")
	require.Equal(t, delivers, b.delivers, "nothing delivered again")
	require.Equal(t, publishes, b.publishes)
}

// A destination that cannot be made, or refuses the file (the object
// exists and is not the run's own), fails the run to be taken up again
// by the next sync; nothing is overwritten.
func TestDestinationRefusal(t *testing.T) {
	v := newEnv(t)
	b := newBucket(t)
	j := allJobs()[0]
	e := v.engine(v.client(), []Job{j}, b.option())
	p := periodOf(time.Now(), DefaultEvery)
	key := "prefix/logs/" + p.Start.Format("2006-01-02T15-04-05Z") + ".csv"
	b.objects[key] = []byte("someone else's")
	r := v.sync(e)[j.Name]
	require.Equal(t, StateFailed, r.Run.State)
	require.True(t, r.Run.Retryable())
	require.ErrorContains(t, r.Err, "the object exists")
	require.Equal(t, []byte("someone else's"), b.objects[key])

	delete(b.objects, key)
	b.requireDelivered(v, v.sync(v.engine(v.client(), []Job{j}, b.option())), j.Name)
	require.Equal(t, 1, v.creates()[j.Vendor])

	bad := WithDestination(func(context.Context, Target) (exportkit.Destination, string, error) {
		return nil, "", errors.New("exportkit: no such bucket")
	})
	v2 := newEnv(t)
	r = v2.sync(v2.engine(v2.client(), []Job{j}, bad))[j.Name]
	require.Equal(t, StateFailed, r.Run.State)
	require.True(t, r.Run.Retryable())
	require.ErrorContains(t, r.Err, "no such bucket")
}

func TestEngineOptionsRefused(t *testing.T) {
	v := newEnv(t)
	for _, tc := range []struct {
		name string
		dir  string
		opts []Option
	}{
		{"negative recreates", "d", []Option{WithMaxRecreates(-1)}},
		{"nil destination", "d", []Option{WithDestination(nil)}},
		{"no directory, no destination", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(v.client(), v.open(), tc.dir, allJobs(), tc.opts...)
			require.ErrorIs(t, err, exportkit.ErrInvalidInput)
		})
	}
	_, err := New(v.client(), v.open(), "", allJobs(), newBucket(t).option())
	require.NoError(t, err, "a destination needs no directory")
}
