package exporttest

import (
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The files of the fake look like the vendors' files: CSV with a header row
// (Brainbase CSV, Memsolus csv, Orbit), a JSON array (Brainbase JSON,
// Memsolus json), a Markdown table (Memsolus markdown) and a zip holding
// the bot definition (Kore). They are still generated, never held: a file
// is a list of segments, and every row has a fixed length, so any byte is
// computed from its offset. The last row absorbs what is left to reach the
// exact size, so the row count the status reports is the file's.

// format is the shape of an export's file.
type format int

const (
	formatRaw format = iota // pseudo-random bytes
	formatLogsCSV
	formatLogsJSON
	formatMemoriesJSON
	formatMemoriesCSV
	formatMemoriesMarkdown
	formatPeopleCSV
	formatBotZip
)

// segment is a run of a file's bytes.
type segment interface {
	len() int64
	// readAt fills p, which lies inside the segment, from offset off.
	readAt(p []byte, off int64)
}

// fixed is a segment of known bytes.
type fixed []byte

func (f fixed) len() int64                 { return int64(len(f)) }
func (f fixed) readAt(p []byte, off int64) { copy(p, f[off:]) }

// random is a segment of pseudo-random bytes.
type random struct {
	n    int64
	seed uint64
}

func (r random) len() int64                 { return r.n }
func (r random) readAt(p []byte, off int64) { fill(p, r.seed, off) }

// rowWriter writes row i of a file into dst, exactly len(dst) bytes,
// ending it with a comma when more rows follow (JSON). It returns the
// length the row needs at least: a shorter dst gets a broken row.
type rowWriter func(dst []byte, seed uint64, i int64, more bool) int

// rowRun is a segment of rows: n of length size, then the last of length
// lastLen.
type rowRun struct {
	n, size, lastLen int64
	seed             uint64
	write            rowWriter
}

func (r *rowRun) len() int64 {
	if r.lastLen == 0 {
		return 0
	}
	return r.n*r.size + r.lastLen
}

func (r *rowRun) readAt(p []byte, off int64) {
	var buf []byte
	for len(p) > 0 {
		i, at, l := off/r.size, off%r.size, r.size
		if i >= r.n {
			i, at, l = r.n, off-r.n*r.size, r.lastLen
		}
		if int64(cap(buf)) < l {
			buf = make([]byte, l)
		}
		row := buf[:l]
		r.write(row, r.seed, i, i < r.n)
		n := copy(p, row[at:])
		p, off = p[n:], off+int64(n)
	}
}

// count is how many rows the segment holds.
func (r *rowRun) count() int64 {
	if r.lastLen == 0 {
		return 0
	}
	return r.n + 1
}

// lazy is a segment computed once, on first read.
type lazy struct {
	n    int64
	once sync.Once
	b    []byte
	make func() []byte
}

func (l *lazy) len() int64 { return l.n }
func (l *lazy) readAt(p []byte, off int64) {
	l.once.Do(func() { l.b = l.make() })
	copy(p, l.b[off:])
}

// layout is a file as segments.
type layout struct {
	segs []segment
	rows int64
}

func (l *layout) readAt(p []byte, off int64) {
	for _, s := range l.segs {
		n := s.len()
		if off >= n {
			off -= n
			continue
		}
		m := min(int64(len(p)), n-off)
		s.readAt(p[:m], off)
		p, off = p[m:], 0
		if len(p) == 0 {
			return
		}
	}
}

// tabular is a file of head, rows and foot, size bytes in all. pad fills
// what is left when not even one row fits.
type tabular struct {
	head, foot string
	rowSize    int64 // a row's usual length
	min        int64 // a row's smallest length, found by minRow
	pad        byte
	write      rowWriter
}

// minRow is the length every row of w fits in: the longest of many rows'
// needs, with a margin for the rare longer one.
func minRow(w rowWriter) int64 {
	need := 0
	for i := range int64(4096) {
		need = max(need, w(nil, uint64(i)*0x2545f4914f6cdd1d, i, true))
	}
	return int64(need) + 16
}

// rowMins finds every format's minRow, once, when the first file is laid
// out: not at init, where it cost every program that imports the package
// (the exportkit command among them) 25 ms at start.
var rowMins = sync.OnceFunc(func() {
	for fm, t := range tabulars {
		t.min = minRow(t.write)
		if t.min > t.rowSize {
			panic("exporttest: rows of format " + strconv.Itoa(int(fm)) + " do not fit")
		}
		tabulars[fm] = t
	}
	botDefinition.min = minRow(botDefinition.write)
})

func (t tabular) layout(size int64, seed uint64) []segment {
	body := size - int64(len(t.head)) - int64(len(t.foot))
	if body < 0 {
		return []segment{random{size, seed}}
	}
	r := &rowRun{size: t.rowSize, seed: seed, write: t.write}
	switch {
	case body >= t.rowSize:
		r.n = body/t.rowSize - 1
		r.lastLen = body - r.n*t.rowSize
	case body >= t.min:
		r.lastLen = body
	default:
		pad := make([]byte, body)
		for i := range pad {
			pad[i] = t.pad
		}
		return []segment{fixed(t.head), fixed(pad), fixed(t.foot)}
	}
	return []segment{fixed(t.head), r, fixed(t.foot)}
}

// newLayout lays out a generated file of fm, size bytes, from seed.
func newLayout(fm format, size int64, seed uint64) *layout {
	rowMins()
	var segs []segment
	switch fm {
	case formatBotZip:
		segs = botZip(size, seed)
	case formatRaw:
		segs = []segment{random{size, seed}}
	default:
		segs = tabulars[fm].layout(size, seed)
	}
	l := &layout{segs: segs}
	for _, s := range segs {
		if r, ok := s.(*rowRun); ok {
			l.rows += r.count()
		}
	}
	return l
}

var tabulars = map[format]tabular{
	formatLogsCSV: {
		head:    "id,timestamp,deployment_id,level,duration_ms,message\n",
		rowSize: 128, pad: '\n', write: logCSV,
	},
	formatLogsJSON: {
		head: "[\n", foot: "]\n",
		rowSize: 192, pad: ' ', write: logJSON,
	},
	formatMemoriesJSON: {
		head: "[\n", foot: "]\n",
		rowSize: 224, pad: ' ', write: memoryJSON,
	},
	formatMemoriesCSV: {
		head:    "id,user_id,agent_id,category,priority,created_at,content\n",
		rowSize: 160, pad: '\n', write: memoryCSV,
	},
	formatMemoriesMarkdown: {
		head: "# Memories\n\n| id | user | agent | category | priority | created at | memory |\n" +
			"|----|------|-------|----------|----------|------------|--------|\n",
		rowSize: 176, pad: '\n', write: memoryMarkdown,
	},
	formatPeopleCSV: {
		head:    "person_id,first_name,last_name,email,company,title,intent_score,data_date,notes\n",
		rowSize: 160, pad: '\n', write: personCSV,
	},
}

// The row writers. Each row's fields come from mix(seed, i): fixed-width
// ids, a timestamp, a choice among a few words, then filler text up to the
// row's length. Filler holds no comma, quote or pipe.

var (
	levels     = []string{"INFO", "INFO", "WARN", "ERROR"}
	priorities = []string{"LOW", "MEDIUM", "HIGH", "LOW"}
	categories = []string{"work", "home", "travel", "health"}
	firstNames = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Donald"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Knuth"}
	titles     = []string{"CTO", "VP Engineering", "Head of Data", "Staff Engineer"}
	companies  = []string{"Initech", "Globex", "Umbrella", "Hooli", "Vandelay", "Soylent", "Tyrell", "Acme"}
)

const filler = "the caller asked about the order and the agent answered with the delivery date then confirmed the address and closed the call "

// rowBase is when the first row happened; row i is i*7 seconds later.
var rowBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// rowBuf builds one row.
type rowBuf struct {
	b  []byte
	h  uint64
	ts time.Time
}

func newRow(dst []byte, seed uint64, i int64) *rowBuf {
	return &rowBuf{b: dst[:0], h: mix(seed ^ uint64(i)*0x9e3779b97f4a7c15), ts: time.Unix(rowBase+i*7, 0).UTC()}
}

func (r *rowBuf) s(s string) *rowBuf { r.b = append(r.b, s...); return r }

// hex appends n hex digits of the row's hash.
func (r *rowBuf) hex(n int) *rowBuf {
	const digits = "0123456789abcdef"
	h := r.h
	for range n {
		r.b = append(r.b, digits[h&15])
		h = h>>4 | h<<60
	}
	return r
}

// num appends i zero-padded to width digits.
func (r *rowBuf) num(i int64, width int) *rowBuf { return r.padded(i, width, '0') }

// jnum appends i as a JSON number, space-padded to width.
func (r *rowBuf) jnum(i int64, width int) *rowBuf { return r.padded(i, width, ' ') }

func (r *rowBuf) padded(i int64, width int, pad byte) *rowBuf {
	s := strconv.FormatInt(i, 10)
	for range width - len(s) {
		r.b = append(r.b, pad)
	}
	return r.s(s)
}

func (r *rowBuf) pick(words []string, shift uint) *rowBuf {
	return r.s(words[(r.h>>shift)%uint64(len(words))])
}

func (r *rowBuf) time() *rowBuf { r.b = r.ts.AppendFormat(r.b, time.RFC3339); return r }

func (r *rowBuf) date() *rowBuf { r.b = r.ts.AppendFormat(r.b, time.DateOnly); return r }

// fill appends filler text so that, with end after it, the row is exactly
// len(dst) bytes, and appends end. It returns the length the row needs
// without filler.
func (r *rowBuf) fill(dst []byte, end string) int {
	need := len(r.b) + len(end)
	start := int(r.h % uint64(len(filler)))
	if sp := strings.IndexByte(filler[start:], ' '); sp >= 0 {
		start += sp + 1 // the filler starts with a word
	} else {
		start = 0
	}
	for n := len(dst) - len(end) - len(r.b); n > 0; start = 0 {
		chunk := filler[start:]
		if len(chunk) > n {
			chunk = chunk[:n]
		}
		r.b = append(r.b, chunk...)
		n -= len(chunk)
	}
	if k := len(r.b) - 1; len(r.b) > need-len(end) && r.b[k] == ' ' {
		r.b[k] = '.' // no trailing blank: some readers trim it
	}
	r.b = append(r.b, end...)
	copy(dst, r.b)
	return need
}

func logCSV(dst []byte, seed uint64, i int64, _ bool) int {
	r := newRow(dst, seed, i)
	r.s("log_").num(i+1, 10).s(",").time().s(",dep_").hex(8).s(",").pick(levels, 40).s(",").num(int64(r.h>>44%100000), 6).s(",")
	return r.fill(dst, "\n")
}

func logJSON(dst []byte, seed uint64, i int64, more bool) int {
	r := newRow(dst, seed, i)
	r.s(`{"id":"log_`).num(i+1, 10).s(`","timestamp":"`).time().s(`","deploymentId":"dep_`).hex(8).
		s(`","level":"`).pick(levels, 40).s(`","durationMs":`).jnum(int64(r.h>>44%100000), 6).s(`,"message":"`)
	return r.fill(dst, end(`"}`, more))
}

func memoryJSON(dst []byte, seed uint64, i int64, more bool) int {
	r := newRow(dst, seed, i)
	r.s(`{"id":"mem_`).hex(16).s(`","user_id":"user_`).num(int64(r.h>>8%1000), 4).s(`","agent_id":"agent_`).num(int64(r.h>>20%100), 3).
		s(`","category":"`).pick(categories, 32).s(`","priority":"`).pick(priorities, 36).s(`","created_at":"`).time().s(`","content":"`)
	return r.fill(dst, end(`"}`, more))
}

func memoryCSV(dst []byte, seed uint64, i int64, _ bool) int {
	r := newRow(dst, seed, i)
	r.s("mem_").hex(16).s(",user_").num(int64(r.h>>8%1000), 4).s(",agent_").num(int64(r.h>>20%100), 3).
		s(",").pick(categories, 32).s(",").pick(priorities, 36).s(",").time().s(",")
	return r.fill(dst, "\n")
}

func memoryMarkdown(dst []byte, seed uint64, i int64, _ bool) int {
	r := newRow(dst, seed, i)
	r.s("| mem_").hex(16).s(" | user_").num(int64(r.h>>8%1000), 4).s(" | agent_").num(int64(r.h>>20%100), 3).
		s(" | ").pick(categories, 32).s(" | ").pick(priorities, 36).s(" | ").time().s(" | ")
	return r.fill(dst, " |\n")
}

func personCSV(dst []byte, seed uint64, i int64, _ bool) int {
	r := newRow(dst, seed, i)
	first, last := firstNames[r.h>>8%8], lastNames[r.h>>12%8]
	company := companies[r.h>>16%8]
	r.s("p_").hex(12).s(",").s(first).s(",").s(last).s(",").s(first).s(".").s(last).s("@").s(company).s(".example,").
		s(company).s(",").pick(titles, 24).s(",").num(int64(r.h>>28%100), 2).s(",").date().s(",")
	return r.fill(dst, "\n")
}

func end(close string, more bool) string {
	if more {
		return close + ",\n"
	}
	return close + "\n"
}

// Kore's export is a zip: a small config.json, then botDefinition.json,
// which holds the bulk (the bot's dialogs as a JSON array). Both are
// stored, not deflated, so the file keeps its exact size; the big entry's
// CRC-32 sits in a data descriptor after it and in the central directory,
// computed once when the end of the file is first read. Above 4 GiB (no
// zip64 here) and below the zip's overhead the file is pseudo-random bytes.

var botConfig = []byte(`{"exportVersion":"2","botType":"default","language":"en","defaultLanguage":"en"}` + "\n")

var botDefinition = tabular{
	head: `{"name":"Exported bot","description":"exporttest fake bot","dialogs":[` + "\n", foot: "]}\n",
	rowSize: 192, pad: ' ', write: dialogJSON,
}

func dialogJSON(dst []byte, seed uint64, i int64, more bool) int {
	r := newRow(dst, seed, i)
	r.s(`{"_id":"dg-`).hex(16).s(`","name":"Dialog `).num(i+1, 6).s(`","nodes":`).jnum(int64(r.h>>40%50)+1, 2).
		s(`,"updatedOn":"`).time().s(`","description":"`)
	return r.fill(dst, end(`"}`, more))
}

const (
	zipConfigName = "config.json"
	zipBotName    = "botDefinition.json"
	zipLocal      = 30 // local file header, without its name
	zipCentral    = 46 // central directory header, without its name
	zipEnd        = 22 // end of central directory record
	zipDescriptor = 16
	zipDOSDate    = (2026-1980)<<9 | 1<<5 | 1
)

func botZip(size int64, seed uint64) []segment {
	headLen := int64(2*zipLocal + len(zipConfigName) + len(botConfig) + len(zipBotName))
	tailLen := int64(zipDescriptor + 2*zipCentral + len(zipConfigName) + len(zipBotName) + zipEnd)
	body := size - headLen - tailLen
	if body < int64(len(botDefinition.head)+len(botDefinition.foot)) || size > 1<<32-1 {
		return []segment{random{size, seed}}
	}
	head := zipHeader(nil, 0x04034b50, zipConfigName, 0, crc32.ChecksumIEEE(botConfig), int64(len(botConfig)), 0)
	head = append(head, botConfig...)
	botAt := int64(len(head))
	// The sizes are known up front; only the CRC waits for the descriptor.
	head = zipHeader(head, 0x04034b50, zipBotName, 8, 0, body, 0)
	inner := botDefinition.layout(body, seed)
	tail := &lazy{n: tailLen}
	tail.make = func() []byte {
		h := crc32.NewIEEE()
		buf := make([]byte, 64<<10)
		l := &layout{segs: inner}
		for off := int64(0); off < body; {
			n := min(int64(len(buf)), body-off)
			l.readAt(buf[:n], off)
			_, _ = h.Write(buf[:n])
			off += n
		}
		crc := h.Sum32()
		t := binary.LittleEndian.AppendUint32(nil, 0x08074b50)
		t = binary.LittleEndian.AppendUint32(t, crc)
		t = binary.LittleEndian.AppendUint32(t, uint32(body))
		t = binary.LittleEndian.AppendUint32(t, uint32(body))
		cdAt := size - tailLen + zipDescriptor
		t = zipHeader(t, 0x02014b50, zipConfigName, 0, crc32.ChecksumIEEE(botConfig), int64(len(botConfig)), 0)
		t = zipHeader(t, 0x02014b50, zipBotName, 8, crc, body, botAt)
		t = binary.LittleEndian.AppendUint32(t, 0x06054b50)
		t = binary.LittleEndian.AppendUint16(t, 0)
		t = binary.LittleEndian.AppendUint16(t, 0)
		t = binary.LittleEndian.AppendUint16(t, 2)
		t = binary.LittleEndian.AppendUint16(t, 2)
		t = binary.LittleEndian.AppendUint32(t, uint32(size-cdAt-zipEnd))
		t = binary.LittleEndian.AppendUint32(t, uint32(cdAt))
		return binary.LittleEndian.AppendUint16(t, 0)
	}
	return append(append([]segment{fixed(head)}, inner...), tail)
}

// zipHeader appends a local (sig 0x04034b50) or central (0x02014b50) file
// header of a stored entry.
func zipHeader(b []byte, sig uint32, name string, flags uint16, crc uint32, size, offset int64) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, sig)
	if sig == 0x02014b50 {
		b = le.AppendUint16(b, 20) // made by
	}
	b = le.AppendUint16(b, 20) // needed
	b = le.AppendUint16(b, flags)
	b = le.AppendUint16(b, 0) // stored
	b = le.AppendUint16(b, 0) // 00:00
	b = le.AppendUint16(b, zipDOSDate)
	b = le.AppendUint32(b, crc)
	b = le.AppendUint32(b, uint32(size))
	b = le.AppendUint32(b, uint32(size))
	b = le.AppendUint16(b, uint16(len(name)))
	b = le.AppendUint16(b, 0) // extra
	if sig == 0x02014b50 {
		b = le.AppendUint16(b, 0) // comment
		b = le.AppendUint16(b, 0) // disk
		b = le.AppendUint16(b, 0) // internal attributes
		b = le.AppendUint32(b, 0) // external attributes
		b = le.AppendUint32(b, uint32(offset))
	}
	return append(b, name...)
}
