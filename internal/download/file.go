package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// fileHandle is the partial file as the engine uses it (a seam for tests
// that fill the disk).
type fileHandle interface {
	io.WriterAt
	io.ReaderAt
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

// checkpointEvery is the time between two state files written while a
// download runs (a variable for the tests): a SIGKILL loses at most the
// bytes received since the last one.
var checkpointEvery = time.Second

// stateVersion is the version of the state file format. Version 2 holds
// the ranges as they were split and what each part had written and synced
// while it ran; a state file of another version is discarded.
const stateVersion = 2

// state is what a DownloadFile that stops leaves beside its partial file,
// so that a later one can go on: never a URL or a credential.
type state struct {
	Version     int        `json:"version"`
	Key         string     `json:"key"`
	Size        int64      `json:"size"`
	ETag        string     `json:"etag"`
	Parts       [][3]int64 `json:"parts"` // start, end, bytes done from start
	Hash        hashState  `json:"hash"`
	HeaderSHA1  string     `json:"headerSha1,omitempty"`
	ContentType string     `json:"contentType,omitempty"`
	FileName    string     `json:"fileName,omitempty"`
	Sum         string     `json:"sum"` // SHA-256 of the state with Sum empty
}

func (st *state) checksum() string {
	c := *st
	c.Sum = ""
	b, _ := json.Marshal(&c)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// StatePath is the state file of a DownloadFile to path.
func StatePath(path string) string { return path + ".partial.state" }

// PartialPath is the partial file of a DownloadFile to path.
func PartialPath(path string) string { return path + ".partial" }

// loadState reads a state file and checks it against the download and the
// partial file; nil when there is none or it cannot be used.
func loadState(name, key string, f fileHandle) *state {
	b, err := os.ReadFile(name)
	if err != nil || len(b) > 4<<20 {
		return nil
	}
	var st state
	if json.Unmarshal(b, &st) != nil || st.Version != stateVersion || st.Sum != st.checksum() ||
		st.Key != key || st.ETag == "" || st.Size <= 0 || len(st.Parts) == 0 {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	next, prefix, inPrefix := int64(0), int64(0), true
	for _, p := range st.Parts {
		start, end, got := p[0], p[1], p[2]
		if start != next || end <= start || got < 0 || got > end-start || start+got > fi.Size() {
			return nil
		}
		if inPrefix {
			prefix = start + got
			inPrefix = got == end-start
		}
		next = end
	}
	if next != st.Size || st.Hash.Hashed < 0 || st.Hash.Hashed > prefix {
		return nil
	}
	return &st
}

// fileJob is a DownloadFile: the partial file under its lock and its state.
type fileJob struct {
	j       *job
	f       fileHandle
	partial string
	state   string

	ckMu     sync.Mutex
	lastSave time.Time
	saveMu   sync.Mutex
}

// snapshot is the state of the download now: the hash state first, then
// the ranges, so that the hashed prefix never runs past the ranges done.
// The bytes it counts must be synced before it is written.
func (fj *fileJob) snapshot(parts func() [][3]int64) (*state, error) {
	j := fj.j
	if j.etag == "" || j.total <= 0 {
		return nil, nil // cannot be resumed: nothing to save
	}
	h, err := j.ver.marshal()
	if err != nil {
		return nil, err
	}
	st := &state{Version: stateVersion, Key: j.src.Key, Size: j.total, ETag: j.etag, Parts: parts(), Hash: h,
		HeaderSHA1: j.ver.headerSHA1, ContentType: j.contentType, FileName: j.fileName}
	st.Sum = st.checksum()
	return st, nil
}

// due reports whether a periodic checkpoint is due, and then counts it as
// taken.
func (fj *fileJob) due() bool {
	fj.ckMu.Lock()
	defer fj.ckMu.Unlock()
	if time.Since(fj.lastSave) < checkpointEvery {
		return false
	}
	fj.lastSave = time.Now()
	return true
}

// save syncs the partial file and then writes st (to a temporary file
// renamed over the state file), so that a state file never claims bytes
// that are not on disk.
func (fj *fileJob) save(st *state) error {
	if st == nil {
		return nil
	}
	fj.saveMu.Lock()
	defer fj.saveMu.Unlock()
	if err := datasync(fj.f); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := fj.state + ".tmp"
	if err := os.WriteFile(tmp, b, 0o666); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, fj.state)
}

// checkpoint takes a snapshot now and saves it.
func (fj *fileJob) checkpoint(parts func() [][3]int64) error {
	st, err := fj.snapshot(parts)
	if err != nil {
		return err
	}
	return fj.save(st)
}

// saver writes the snapshots a download takes while it runs in the
// background, so that the sync never holds up the transfer: when it is
// busy, the newest snapshot waits and older ones are dropped.
type saver struct {
	fj   *fileJob
	ch   chan *state
	done chan struct{}
	once sync.Once
}

func (fj *fileJob) startSaver() *saver {
	sv := &saver{fj: fj, ch: make(chan *state, 1), done: make(chan struct{})}
	go func() {
		defer close(sv.done)
		for st := range sv.ch {
			_ = fj.save(st) // a failed periodic save costs only a longer resume
		}
	}()
	return sv
}

// offer hands a snapshot to the saver, in place of one still waiting.
func (sv *saver) offer(st *state) {
	if st == nil {
		return
	}
	for {
		select {
		case sv.ch <- st:
			return
		default:
		}
		select {
		case <-sv.ch:
		default:
		}
	}
}

// periodic takes a snapshot when one is due and offers it.
func (sv *saver) periodic(parts func() [][3]int64) {
	if !sv.fj.due() {
		return
	}
	if st, err := sv.fj.snapshot(parts); err == nil {
		sv.offer(st)
	}
}

// stop waits for the saver to write what it holds. It may be called more
// than once.
func (sv *saver) stop() {
	sv.once.Do(func() { close(sv.ch) })
	<-sv.done
}

func (fj *fileJob) removeState() {
	os.Remove(fj.state)
	os.Remove(fj.state + ".tmp")
}

// keep reports whether a failed download's partial file is worth keeping
// for a later run: not when the file changed, failed verification, or the
// disk is full.
func keep(err error) bool {
	return !errors.Is(err, ErrFileChanged) && !errors.Is(err, ErrSizeMismatch) &&
		!errors.Is(err, ErrChecksumMismatch) && !errors.Is(err, ErrNoSpace) && !errors.Is(err, ErrUnsafeURL)
}

// File downloads to path atomically: the bytes go to path.partial in the
// same directory (so that the rename cannot cross file systems), which is
// synced and renamed over path only once the download is complete and
// verified. A download that stops (cancelled, or failed after its
// resumes) keeps the partial file and a state file beside it
// (path.partial.state: the export's key, size, ETag, the ranges done and
// the hash state of the verified prefix), and a later File to the same
// path for the same file goes on from there; one that failed verification
// or found the file changed removes both. Whatever was at path is left as
// it was until the rename.
//
// Two downloads to the same path at once would write the same partial
// file: the partial file is locked while it is written (where the system
// has advisory locks; elsewhere it is created exclusively), and the second
// download fails at once with ErrBusy instead of interleaving its bytes.
func File(ctx context.Context, cfg Config, src *Source, path string) (*Result, error) {
	if cfg.Connections <= 0 {
		cfg.Connections = DefaultFileConnections
	}
	fj := &fileJob{partial: PartialPath(path), state: StatePath(path)}
	create := cfg.createFile
	if create == nil {
		create = createPartial
	}
	f, err := create(fj.partial)
	if err != nil {
		return nil, err
	}
	fj.f = f
	res, err := fj.run(ctx, cfg, src, true)
	if err == nil {
		err = commitPartial(f, fj.partial, path)
		if err == nil {
			fj.removeState()
			syncDir(filepath.Dir(path))
			return res, nil
		}
		fj.removeState()
		discardPartial(f, fj.partial)
		return nil, err
	}
	if _, serr := os.Stat(fj.state); !keep(err) || serr != nil {
		// Nothing a later run could go on from.
		fj.removeState()
		discardPartial(f, fj.partial)
		return nil, err
	}
	f.Close()
	return nil, err
}

// run downloads into the partial file; with retry, a resumed download that
// finds the file changed starts over once.
func (fj *fileJob) run(ctx context.Context, cfg Config, src *Source, retry bool) (*Result, error) {
	var st *state
	if !cfg.NoResume {
		st = loadState(fj.state, src.Key, fj.f)
	}
	if st == nil {
		fj.removeState()
		if err := fj.f.Truncate(0); err != nil {
			return nil, fmt.Errorf("save file: %w", err)
		}
		return fj.fresh(ctx, cfg, src)
	}
	res, err := fj.resume(ctx, cfg, src, st)
	if err != nil && retry && errors.Is(err, ErrFileChanged) && ctx.Err() == nil {
		// The file changed since the earlier run: start over.
		fj.removeState()
		cfg.NoResume = true
		return fj.run(ctx, cfg, src, false)
	}
	return res, err
}

// fresh downloads from the first byte.
func (fj *fileJob) fresh(ctx context.Context, cfg Config, src *Source) (*Result, error) {
	j, s, err := begin(ctx, cfg, src)
	if err != nil {
		return nil, err
	}
	fj.j = j
	if j.eligible(s.status) {
		if err := preallocate(fj.f, j.total); err != nil {
			j.early.close()
			s.Close()
			return nil, writeError(err)
		}
		p := newParallel(j, planParts(j.total, j.planSize()), fj.f)
		p.handFirst(s)
		return fj.parallel(p)
	}
	j.early.close()
	return fj.stream(s)
}

// resume goes on from a state file.
func (fj *fileJob) resume(ctx context.Context, cfg Config, src *Source, st *state) (*Result, error) {
	j := newJob(ctx, cfg, src)
	fj.j = j
	j.started = true
	j.total, j.rawETag, j.etag = st.Size, st.ETag, st.ETag
	j.ranges = true
	j.contentType, j.fileName = st.ContentType, st.FileName
	j.ver.header(st.HeaderSHA1)
	if err := j.ver.restore(st.Hash); err != nil {
		// The saved hash state does not fit this download's checksums.
		return nil, fmt.Errorf("%w: %v", ErrFileChanged, err)
	}
	parts := make([]*part, len(st.Parts))
	for i, sp := range st.Parts {
		parts[i] = newPart(sp[0], sp[1])
		parts[i].got.Store(sp[2])
		j.reused += sp[2]
	}
	var s *stream
	if len(parts) == 1 {
		s = newStream(j)
		s.off = parts[0].got.Load()
		if j.ver.hashed < s.off {
			s.off = j.ver.hashed // the stream hashes what it reads: go on from the hashed prefix
			j.reused = s.off
		}
	}
	if j.cfg.Progress != nil {
		j.cfg.Progress(j.reused, j.total) // where it goes on from, at once
	}
	if s != nil {
		return fj.stream(s)
	}
	p := newParallel(j, parts, fj.f)
	return fj.parallel(p)
}

// parallel runs a download in parts to the file, hashing the finished
// prefix beside the transfer and saving state every checkpointEvery while
// the parts run: the ranges each part has written (synced before the state
// file is written), so that a kill loses at most one interval of transfer.
func (fj *fileJob) parallel(p *parallel) (*Result, error) {
	j := p.j
	sv := fj.startSaver()
	p.onPart = func(pt *part) { writebackHint(fj.f, pt.start, pt.size()) }
	stopTicks := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		tk := time.NewTicker(max(checkpointEvery, time.Millisecond))
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				if st, err := fj.snapshot(p.ranges); err == nil {
					sv.offer(st)
				}
			case <-stopTicks:
				return
			}
		}
	}()
	p.start()
	err := p.hashFile()
	close(stopTicks)
	<-ticked
	sv.stop()
	if err == nil {
		err = j.ver.finish(p.done(), j.total)
		if err == nil {
			j.finalProgress(p.done())
			return p.result(p.done()), nil
		}
	}
	if keep(err) {
		if cerr := fj.checkpoint(p.ranges); cerr != nil {
			return nil, errors.Join(err, cerr)
		}
	}
	return nil, err
}

// stream runs a download over one connection to the file, from the
// stream's offset, saving state every checkpointEvery.
func (fj *fileJob) stream(s *stream) (*Result, error) {
	j := s.j
	defer s.Close()
	sv := fj.startSaver()
	defer sv.stop()
	w := newFileWriter(fj.f, s.off)
	snap := func() [][3]int64 { return [][3]int64{{0, j.total, w.off}} }
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, rerr := s.Read(buf)
		if n > 0 {
			if err := w.write(buf[:n]); err != nil {
				s.fail(err)
				return nil, err
			}
			if j.etag != "" {
				sv.periodic(snap)
			}
		}
		if rerr == io.EOF {
			return j.result(s.off, 1), nil
		}
		if rerr != nil {
			if keep(rerr) && j.etag != "" {
				sv.stop()
				if cerr := fj.checkpoint(snap); cerr != nil {
					return nil, errors.Join(rerr, cerr)
				}
			}
			return nil, rerr
		}
	}
}

// fileWriter writes a stream to the partial file from an offset, asking
// the kernel to start writing back every writebackEvery bytes as they are
// written, so that the disk works while the network does and the final
// sync waits only for the tail.
type fileWriter struct {
	f         fileHandle
	off, sent int64
}

// writebackEvery is how much written data may wait in the page cache before
// the kernel is asked to start writing it to disk.
const writebackEvery = 8 << 20

func newFileWriter(f fileHandle, off int64) *fileWriter {
	return &fileWriter{f: f, off: off, sent: off}
}

func (w *fileWriter) write(p []byte) error {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return writeError(err)
	}
	if w.off-w.sent >= writebackEvery {
		writebackHint(w.f, w.sent, w.off-w.sent)
		w.sent = w.off
	}
	return nil
}

// commitPartial syncs the partial file and renames it over path. Where
// open files can be renamed, the rename happens before the close, while
// the lock is still held, so that no other download can take the partial
// file in between.
func commitPartial(f fileHandle, partial, path string) error {
	if err := f.Sync(); err != nil {
		return writeError(err)
	}
	if renameOpenFiles {
		if err := os.Rename(partial, path); err != nil {
			return fmt.Errorf("save file: %w", err)
		}
		// The data is on disk and in place: a close error cannot lose it.
		f.Close()
		return nil
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save file: %w", err)
	}
	if err := os.Rename(partial, path); err != nil {
		return fmt.Errorf("save file: %w", err)
	}
	return nil
}

// discardPartial removes the partial file, while the lock is held where
// that is possible.
func discardPartial(f fileHandle, partial string) {
	if renameOpenFiles {
		os.Remove(partial)
		f.Close()
		return
	}
	f.Close()
	os.Remove(partial)
}
