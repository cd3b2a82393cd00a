package exportjob

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/exportkit/exportkit"
)

// errLeaseLost: another process took the run's lease (this one stalled
// past its expiry); the run is left to it.
var errLeaseLost = errors.New("exportkit: exportjob: lease lost to another process")

// acquire takes the lease on key for owner until ttl from now, when it is
// free, expired, or already owner's. It reports whether owner holds it.
func (s *Store) acquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, `INSERT INTO leases (key, owner, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE leases.owner = excluded.owner OR leases.expires_at <= ?`, key, owner, ms(now.Add(ttl)), ms(now))
	if err != nil {
		return false, s.storeErr("take lease", err)
	}
	n, err := res.RowsAffected()
	return n == 1, s.storeErr("take lease", err)
}

// renew extends every lease owner holds.
func (s *Store) renew(ctx context.Context, owner string, ttl time.Duration) error {
	_, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = ? WHERE owner = ?`, ms(s.now().Add(ttl)), owner)
	return s.storeErr("renew leases", err)
}

// release gives a lease up.
func (s *Store) release(ctx context.Context, key, owner string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE key = ? AND owner = ?`, key, owner)
	return s.storeErr("release lease", err)
}

// plan records the job and inserts its due runs (a run that exists is
// left alone: the fingerprint is the primary key), and plans again each
// expired run re-planned fewer than maxRecreates times, to make a new
// intent; one re-planned that often stays expired. One transaction.
func (s *Store) plan(ctx context.Context, j Job, now time.Time, maxRecreates int) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (name, vendor) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET vendor = excluded.vendor`, j.Name, string(j.Vendor)); err != nil {
			return err
		}
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT next_period FROM jobs WHERE name = ?`, j.Name).Scan(&next); err != nil {
			return err
		}
		params, err := json.Marshal(j.Params)
		if err != nil {
			return err
		}
		due := duePeriods(j, now, fromMS(next))
		for _, p := range due {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO runs (fingerprint, job, period, period_end, vendor, state, params, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, Fingerprint(j.Name, p.Start), j.Name, ms(p.Start), ms(p.End),
				string(j.Vendor), string(StatePlanned), string(params), ms(now)); err != nil {
				return err
			}
		}
		if len(due) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET next_period = MAX(next_period, ?) WHERE name = ?`,
				ms(due[len(due)-1].End), j.Name); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dest_state WHERE fingerprint IN
			(SELECT fingerprint FROM runs WHERE job = ? AND state = ? AND recreates < ?)`, j.Name, string(StateExpired), maxRecreates); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET state = ?, resume = '', token = '', export_id = '', error = '',
			recreates = recreates + 1, creates_base = creates, updated_at = ?
			WHERE job = ? AND state = ? AND recreates < ?`, string(StatePlanned), ms(now), j.Name, string(StateExpired), maxRecreates)
		return err
	})
	return s.storeErr("plan "+j.Name, err)
}

const runColumns = `fingerprint, job, period, period_end, vendor, state, resume, params, creates, intent_at, idem_key,
	export_id, token, next_poll, polls, size, sha1, rows, file, candidates, error, updated_at, recreates, creates_base`

func scanRun(sc interface{ Scan(...any) error }) (*Run, error) {
	var (
		r                                         Run
		period, end, intentAt, nextPoll, updated  int64
		vendor, state, resume, params, candidates string
	)
	err := sc.Scan(&r.fingerprint, &r.Job, &period, &end, &vendor, &state, &resume, &params, &r.Creates, &intentAt, &r.key,
		&r.ExportID, &r.token, &nextPoll, &r.polls, &r.Size, &r.SHA1, &r.Rows, &r.File, &candidates, &r.Error, &updated,
		&r.Recreates, &r.createsBase)
	if err != nil {
		return nil, err
	}
	r.Period = Period{Start: fromMS(period), End: fromMS(end)}
	r.Vendor, r.State, r.resume = exportkit.Vendor(vendor), State(state), State(resume)
	r.IntentAt, r.nextPoll, r.UpdatedAt = fromMS(intentAt), fromMS(nextPoll), fromMS(updated)
	if err := json.Unmarshal([]byte(params), &r.params); err != nil {
		return nil, errors.Join(ErrStoreDamaged, err)
	}
	if err := json.Unmarshal([]byte(candidates), &r.Candidates); err != nil {
		return nil, errors.Join(ErrStoreDamaged, err)
	}
	if r.Candidates == nil {
		r.Candidates = []string{}
	}
	return &r, nil
}

func (s *Store) queryRuns(ctx context.Context, op, where string, args ...any) ([]*Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs `+where, args...)
	if err != nil {
		return nil, s.storeErr(op, err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, s.storeErr(op, err)
		}
		out = append(out, r)
	}
	return out, s.storeErr(op, rows.Err())
}

// get reads one run.
func (s *Store) get(ctx context.Context, fp string) (*Run, error) {
	runs, err := s.queryRuns(ctx, "read run", `WHERE fingerprint = ?`, fp)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, s.storeErr("read run", errors.New("run "+fp+" is gone"))
	}
	return runs[0], nil
}

// pending lists the job's runs a sync has work for, oldest first.
func (s *Store) pending(ctx context.Context, job string) ([]*Run, error) {
	return s.queryRuns(ctx, "list runs", `WHERE job = ? AND (state NOT IN ('done', 'parked', 'failed', 'expired') OR (state = 'failed' AND resume != ''))
		ORDER BY period`, job)
}

// Runs returns the job's runs, newest first.
func (s *Store) Runs(ctx context.Context, job string) ([]*Run, error) {
	return s.queryRuns(ctx, "list runs", `WHERE job = ? ORDER BY period DESC`, job)
}

// owned reports the vendor's export ids some run already created or
// adopted: reconciliation never hands one to a second run.
func (s *Store) owned(ctx context.Context, v exportkit.Vendor) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM exports WHERE vendor = ?`, string(v))
	if err != nil {
		return nil, s.storeErr("list exports", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.storeErr("list exports", err)
		}
		out[id] = true
	}
	return out, s.storeErr("list exports", rows.Err())
}

// save writes r as it now is over the row in state from, in one
// transaction with also (when given), provided owner holds the run's
// lease; otherwise errLeaseLost and nothing is written.
func (s *Store) save(ctx context.Context, owner string, from State, r *Run, also func(*sql.Tx) error) error {
	params, err := json.Marshal(r.params)
	if err != nil {
		return err
	}
	if r.Candidates == nil {
		r.Candidates = []string{}
	}
	cands, err := json.Marshal(r.Candidates)
	if err != nil {
		return err
	}
	r.UpdatedAt = s.now().UTC()
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET state = ?, resume = ?, params = ?, creates = ?, intent_at = ?, idem_key = ?,
			export_id = ?, token = ?, next_poll = ?, polls = ?, size = ?, sha1 = ?, rows = ?, file = ?, candidates = ?, error = ?, updated_at = ?,
			recreates = ?, creates_base = ?
			WHERE fingerprint = ? AND state = ? AND EXISTS (SELECT 1 FROM leases WHERE key = ? AND owner = ?)`,
			string(r.State), string(r.resume), string(params), r.Creates, ms(r.IntentAt), r.key,
			r.ExportID, r.token, ms(r.nextPoll), r.polls, r.Size, r.SHA1, r.Rows, r.File, string(cands), r.Error, ms(r.UpdatedAt),
			r.Recreates, r.createsBase,
			r.fingerprint, string(from), runLease(r.fingerprint), owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(errLeaseLost, err)
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	return s.storeErr("save run "+r.fingerprint, err)
}

// otherCreating returns a run of the job other than fp whose create is
// not resolved (creating, or failed to be reconciled), or nil.
func (s *Store) otherCreating(ctx context.Context, tx *sql.Tx, job, fp string) (*Run, error) {
	r, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE job = ? AND fingerprint != ?
		AND (state = 'creating' OR (state = 'failed' AND resume = 'creating')) LIMIT 1`, job, fp))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

// runLease is the lease key of a run.
func runLease(fp string) string { return "run:" + fp }

// Watermark returns the end of the job's latest published window, or the
// zero time.
func (s *Store) Watermark(ctx context.Context, job string) (time.Time, error) {
	var w int64
	err := s.db.QueryRowContext(ctx, `SELECT watermark FROM jobs WHERE name = ?`, job).Scan(&w)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return fromMS(w), s.storeErr("read watermark", err)
}

// runState is a run's [StateStore]: rows of dest_state under the run's
// fingerprint. Save writes only while the engine holds the run's lease.
type runState struct {
	st        *Store
	fp, owner string
}

// Load returns the state saved under key, or nil.
func (s *runState) Load(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := s.st.db.QueryRowContext(ctx, `SELECT state FROM dest_state WHERE fingerprint = ? AND key = ?`, s.fp, key).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return b, s.st.storeErr("read destination state", err)
}

// Save replaces the state under key, in one transaction, provided the
// engine still holds the run's lease (otherwise errLeaseLost).
func (s *runState) Save(ctx context.Context, key string, state []byte) error {
	err := s.st.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO dest_state (fingerprint, key, state, updated_at)
			SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM leases WHERE key = ? AND owner = ?)
			ON CONFLICT (fingerprint, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
			s.fp, key, state, ms(s.st.now()), runLease(s.fp), s.owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(errLeaseLost, err)
		}
		return nil
	})
	return s.st.storeErr("save destination state", err)
}

// Delete keeps the state: the run's states are dropped in the transaction
// that marks it done (or plans it again), so that a delivery killed after
// it published its object, before the run was marked done, finds the
// state that shows the object is its own.
func (s *runState) Delete(context.Context, string) error { return nil }

// dropStateTx drops a run's destination states, in the transaction that
// marks it done.
func dropStateTx(ctx context.Context, tx *sql.Tx, fp string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM dest_state WHERE fingerprint = ?`, fp)
	return err
}
