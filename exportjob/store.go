package exportjob

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// What can be wrong with a store, for errors.Is; every store error is a
// [*StoreError] matching one of them, or none for other failures.
var (
	// ErrStoreLocked: another process held the store's write lock longer
	// than the busy timeout.
	ErrStoreLocked = errors.New("exportkit: store locked")
	// ErrStoreDamaged: the file is not an SQLite database, is truncated or
	// fails its integrity check, or has a schema this version does not know.
	ErrStoreDamaged = errors.New("exportkit: store damaged")
	// ErrStoreReadOnly: the store cannot be written (file, directory or
	// file system read-only).
	ErrStoreReadOnly = errors.New("exportkit: store read-only")
	// ErrStoreFull: the disk (or a quota) is full.
	ErrStoreFull = errors.New("exportkit: store disk full")
)

// StoreError is a store operation that failed: which store, what was being
// done, and why. It matches its Kind with errors.Is and unwraps to the
// driver's error.
type StoreError struct {
	Path string
	Op   string
	Kind error // ErrStoreLocked, ErrStoreDamaged, ErrStoreReadOnly, ErrStoreFull or nil
	Err  error
}

// Error says which store, what was being done, and what is wrong.
func (e *StoreError) Error() string {
	what := ""
	switch e.Kind {
	case ErrStoreLocked:
		what = "locked by another process: "
	case ErrStoreDamaged:
		what = "damaged or not an exportkit store: "
	case ErrStoreReadOnly:
		what = "read-only: "
	case ErrStoreFull:
		what = "disk full: "
	}
	return fmt.Sprintf("exportkit: store %q: %s: %s%v", e.Path, e.Op, what, e.Err)
}

// Unwrap returns the underlying error.
func (e *StoreError) Unwrap() error { return e.Err }

// Is matches the error's Kind.
func (e *StoreError) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// kindOf classifies a driver error.
func kindOf(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return ErrStoreLocked
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return ErrStoreDamaged
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return ErrStoreReadOnly
		case sqlite3.SQLITE_FULL:
			return ErrStoreFull
		}
	}
	switch {
	case errors.Is(err, ErrStoreDamaged), errors.Is(err, ErrStoreLocked), errors.Is(err, ErrStoreReadOnly), errors.Is(err, ErrStoreFull):
		return nil // already classified inside
	case errors.Is(err, os.ErrPermission):
		return ErrStoreReadOnly
	}
	return nil
}

// Store is a job store: one SQLite file in WAL mode, its schema versioned
// in table schema_version. It is safe for concurrent use; several
// processes may share one store.
type Store struct {
	db   *sql.DB
	path string
	now  func() time.Time
}

// storeConfig holds what tests change about opening a store.
type storeConfig struct {
	busyTimeout time.Duration
	readOnly    bool // open as a read-only file system would let it
}

// Open opens the store at path, creating it (and its schema) when the file
// does not exist, and migrating an older schema. A file that is not an
// SQLite database, is truncated or damaged is an error matching
// [ErrStoreDamaged]; one that cannot be written, [ErrStoreReadOnly]; one
// held by another process past the busy timeout (5 s), [ErrStoreLocked].
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, storeConfig{busyTimeout: 5 * time.Second})
}

// sqliteHeader opens every SQLite 3 database file.
var sqliteHeader = []byte("SQLite format 3\x00")

func open(ctx context.Context, path string, cfg storeConfig) (*Store, error) {
	fail := func(op string, err error) (*Store, error) {
		return nil, &StoreError{Path: path, Op: op, Kind: kindOf(err), Err: err}
	}
	if path == "" {
		return nil, invalid("store: empty path")
	}
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fail("open", errors.New("is a directory"))
		}
		if err := checkHeader(path, fi.Size()); err != nil {
			return nil, &StoreError{Path: path, Op: "open", Kind: ErrStoreDamaged, Err: err}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fail("open", err)
	} else if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fail("create directory", err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	if cfg.readOnly {
		q.Set("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return fail("open", err)
	}
	db.SetMaxOpenConns(1) // one connection: writes in this process never contend with each other
	s := &Store{db: db, path: path, now: time.Now}
	if err := s.db.PingContext(ctx); err != nil {
		db.Close()
		return fail("open", err)
	}
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check); err != nil {
		db.Close()
		return fail("check", err)
	}
	if check != "ok" {
		db.Close()
		return nil, &StoreError{Path: path, Op: "check", Kind: ErrStoreDamaged, Err: errors.New(check)}
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkHeader refuses a file that is not SQLite, or shorter than the pages
// its header says it has (a truncated copy).
func checkHeader(path string, size int64) error {
	if size == 0 {
		return nil // an empty file: SQLite makes a database of it
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || !bytes.Equal(h[:16], sqliteHeader) {
		return errors.New("not an SQLite database")
	}
	pageSize := int64(h[16])<<8 | int64(h[17])
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(h[28])<<24 | int64(h[29])<<16 | int64(h[30])<<8 | int64(h[31])
	// The page count is valid when the change counter matches the
	// version-valid-for number, as SQLite itself checks.
	if bytes.Equal(h[24:28], h[92:96]) && pages > 0 && size < pages*pageSize {
		return fmt.Errorf("truncated: %d bytes where the header says %d pages of %d", size, pages, pageSize)
	}
	return nil
}

// Path returns the store's file name.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// storeErr wraps a driver error with the store's path and the operation.
func (s *Store) storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *StoreError
	if errors.As(err, &se) || errors.Is(err, errLeaseLost) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &StoreError{Path: s.path, Op: op, Kind: kindOf(err), Err: err}
}

// migrations are the schema's versions: migrations[i] takes a store from
// version i to i+1. Released entries never change; a new version appends.
var migrations = []string{
	`CREATE TABLE jobs (
		name        TEXT PRIMARY KEY,
		vendor      TEXT NOT NULL,
		next_period INTEGER NOT NULL DEFAULT 0, -- unix ms of the first period not yet planned; 0: none planned
		watermark   INTEGER NOT NULL DEFAULT 0  -- unix ms: the end of the latest published window
	);
	CREATE TABLE runs (
		fingerprint TEXT PRIMARY KEY,            -- job@period: the run exists once
		job         TEXT NOT NULL,
		period      INTEGER NOT NULL,
		period_end  INTEGER NOT NULL,
		vendor      TEXT NOT NULL,
		state       TEXT NOT NULL,
		resume      TEXT NOT NULL DEFAULT '',    -- the step a failed run is taken up from
		params      TEXT NOT NULL DEFAULT '{}',
		creates     INTEGER NOT NULL DEFAULT 0,  -- create intents written
		intent_at   INTEGER NOT NULL DEFAULT 0,
		idem_key    TEXT NOT NULL DEFAULT '',
		export_id   TEXT NOT NULL DEFAULT '',
		token       TEXT NOT NULL DEFAULT '',    -- the SDK's resume token of the wait
		next_poll   INTEGER NOT NULL DEFAULT 0,
		polls       INTEGER NOT NULL DEFAULT 0,
		size        INTEGER NOT NULL DEFAULT -1,
		sha1        TEXT NOT NULL DEFAULT '',
		rows        INTEGER NOT NULL DEFAULT -1,
		file        TEXT NOT NULL DEFAULT '',
		candidates  TEXT NOT NULL DEFAULT '[]',
		error       TEXT NOT NULL DEFAULT '',
		updated_at  INTEGER NOT NULL,
		UNIQUE (job, period)
	);
	CREATE INDEX runs_state ON runs (state);
	CREATE TABLE exports (                       -- every vendor export a run created or adopted
		vendor      TEXT NOT NULL,
		id          TEXT NOT NULL,
		fingerprint TEXT NOT NULL REFERENCES runs (fingerprint),
		PRIMARY KEY (vendor, id)
	);
	CREATE TABLE leases (
		key        TEXT PRIMARY KEY,
		owner      TEXT NOT NULL,
		expires_at INTEGER NOT NULL              -- unix ms
	);`,
	// 2: a bound on re-creating expired runs, and the resume state of the
	// runs delivered to a destination (WithDestination).
	`ALTER TABLE runs ADD COLUMN recreates INTEGER NOT NULL DEFAULT 0;    -- times re-planned after its export expired
	ALTER TABLE runs ADD COLUMN creates_base INTEGER NOT NULL DEFAULT 0; -- creates when last re-planned
	CREATE TABLE dest_state (                    -- a destination's resume state, per run, until the run is done
		fingerprint TEXT NOT NULL REFERENCES runs (fingerprint),
		key         TEXT NOT NULL,
		state       BLOB NOT NULL,
		updated_at  INTEGER NOT NULL,
		PRIMARY KEY (fingerprint, key)
	);`,
}

// SchemaVersion is the schema version this package writes.
var SchemaVersion = len(migrations)

func (s *Store) migrate(ctx context.Context) error {
	v, err := s.version(ctx)
	if err != nil {
		return s.storeErr("read schema version", err)
	}
	switch {
	case v == SchemaVersion:
		return nil
	case v > SchemaVersion:
		return &StoreError{Path: s.path, Op: "open", Kind: ErrStoreDamaged,
			Err: fmt.Errorf("schema version %d is newer than this exportkit's (%d)", v, SchemaVersion)}
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
			return err
		}
		for i := cur; i < SchemaVersion; i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migrate to version %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, SchemaVersion)
		return err
	})
	return s.storeErr("migrate", err)
}

func (s *Store) version(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v int
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	if err == nil && v == 0 {
		var tables int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'`).Scan(&tables); err == nil && tables > 0 {
			return 0, &StoreError{Path: s.path, Op: "open", Kind: ErrStoreDamaged, Err: errors.New("schema_version is empty")}
		}
	}
	return v, err
}

// tx runs f in one committed transaction (BEGIN IMMEDIATE: the write lock
// is taken first, so a busy store fails at the start, not at the commit).
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ms is a time as the store keeps it; zero is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// errText is an error's message for the store and for embedding in
// another message: one line, without the "exportkit: " prefix the
// message that embeds it has; "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(strings.Join(strings.Fields(err.Error()), " "), "exportkit: ")
}
