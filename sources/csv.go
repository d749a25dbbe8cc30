package sources

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

// Import modes.
const (
	// ModeUpsert creates and updates the employees in the file and
	// leaves the others as they are.
	ModeUpsert = "upsert"
	// ModeSnapshot also terminates the employees of the source that the
	// file does not list: the file is the whole workforce.
	ModeSnapshot = "snapshot"
)

// Limits of a CSV import; ImportOptions may lower them.
const (
	DefaultMaxBytes = 256 << 20
	DefaultMaxRows  = 1_000_000
	// batchSize is the number of rows read, compared and written at once:
	// it bounds the memory of an import whatever the file's size.
	batchSize = 1000
)

// ImportOptions configures ImportCSV.
type ImportOptions struct {
	// Mapping maps columns to fields; nil is DefaultMapping.
	Mapping *Mapping
	// Mode is ModeUpsert (the default) or ModeSnapshot.
	Mode string
	// MaxBytes and MaxRows bound the file; zero selects the defaults.
	MaxBytes int64
	MaxRows  int
}

// ErrRejected is wrapped by the error of an import that wrote nothing
// because rows were bad; the run lists them.
var ErrRejected = errors.New("rows rejected")

// ImportCSV imports a CSV file into a CSV source, all or nothing, and
// returns its run. The file is read twice: a first pass validates every
// row and reports every problem without touching the store; only a file
// without problems is read again and written, in one transaction, in
// batches of batchSize rows, so that memory stays bounded and a failure
// at any point leaves the store as it was. A file with bad rows returns
// the run, which lists them (Problems), and an EINVALID error wrapping
// ErrRejected.
//
// The file may start with a UTF-8 byte order mark, use CRLF line ends and
// quote fields (RFC 4180). The first record is the header.
func (s *Service) ImportCSV(ctx context.Context, source string, file io.ReadSeeker, opts ImportOptions) (*hrgate.SyncRun, error) {
	if opts.Mapping == nil {
		opts.Mapping = DefaultMapping
	}
	if opts.Mode == "" {
		opts.Mode = ModeUpsert
	}
	if opts.Mode != ModeUpsert && opts.Mode != ModeSnapshot {
		return nil, hrgate.Errorf(hrgate.EINVALID, "The import mode is upsert or snapshot.")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxRows <= 0 {
		opts.MaxRows = DefaultMaxRows
	}
	src, err := s.store.FindSource(ctx, source)
	if err != nil {
		return nil, err
	}
	if src.Type != hrgate.SourceCSV {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Source %s is a %s source; only CSV sources import files.", src.Name, src.Type)
	}
	now := s.now().UTC()
	runID, err := hrgate.NewOrderedID(hrgate.PrefixSyncRun, now, s.random)
	if err != nil {
		return nil, hrgate.Wrap(err, "import")
	}
	run := &hrgate.SyncRun{ID: runID, SourceID: src.ID, Kind: "csv", Mode: opts.Mode, Status: hrgate.RunRunning, StartedAt: now}
	if err := s.store.CreateSyncRun(ctx, run); err != nil {
		return nil, err
	}
	today := now.Format(time.DateOnly)

	// Pass 1: validate everything, write nothing.
	seen := make(map[string]struct{})
	problems, rows, err := scanCSV(file, opts, today, func(row int, e *hrgate.Employee) string {
		if _, dup := seen[e.RemoteID]; dup {
			return "Another row of the file has the same remote_id."
		}
		// Clone: the id is a substring of its whole CSV record
		// (encoding/csv makes one string per record), which the key
		// would otherwise keep alive, row after row, for the whole file.
		seen[strings.Clone(e.RemoteID)] = struct{}{}
		return ""
	})
	run.Rows = rows
	if err != nil {
		return s.fail(ctx, run, err)
	}
	if problems.bad > 0 {
		return s.reject(ctx, src, run, problems)
	}

	// Pass 2: the same rows again, written in one transaction.
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return s.fail(ctx, run, hrgate.Wrap(err, "rewind the file"))
	}
	var y *syncer
	err = s.store.Sync(ctx, src, func(tx hrgate.SyncTx) error {
		y = &syncer{svc: s, tx: tx, src: src, run: run, now: now, problems: problemList{last: -1}}
		if err := applyFile(ctx, y, file, opts, today, run.Rows); err != nil {
			return err
		}
		if opts.Mode == ModeSnapshot {
			if err := y.terminateMissing(ctx, seen); err != nil {
				return err
			}
		}
		if y.problems.bad > 0 {
			return ErrRejected
		}
		return nil
	})
	if errors.Is(err, ErrRejected) {
		return s.reject(ctx, src, run, &y.problems)
	}
	if err != nil {
		return s.fail(ctx, run, err)
	}
	run.Status, run.FinishedAt = hrgate.RunSucceeded, s.now().UTC()
	if err := s.store.FinishSyncRun(ctx, run); err != nil {
		return run, err
	}
	s.log.Info("CSV import finished", "source_id", src.ID, "run_id", run.ID, "mode", run.Mode, "rows", run.Rows,
		"created", run.Created, "updated", run.Updated, "terminated", run.Terminated, "unchanged", run.Unchanged)
	return run, s.record(ctx, hrgate.AuditSourceImported, src.ID, nil, runAttrs(run))
}

// applyFile is an import's second pass: it reads the file again and
// applies its rows in batches, in y's transaction. The file is read and
// its rows parsed on a goroutine of their own, a batch or two ahead of
// the one being applied, so that parsing (a fifth of a re-import without
// changes) uses the second processor while the first reads and writes
// the store. Both have stopped when it returns. A file whose rows differ
// from the first pass's count, or that has problems now, changed in
// between: nothing is imported.
func applyFile(ctx context.Context, y *syncer, file io.Reader, opts ImportOptions, today string, wantRows int) error {
	batches := make(chan []record, 2)
	stop := make(chan struct{})
	var (
		problems *problemList
		rows     int
		scanErr  error
	)
	go func() {
		defer close(batches)
		batch := make([]record, 0, batchSize)
		send := func() bool {
			select {
			case batches <- batch:
				batch = make([]record, 0, batchSize)
				return true
			case <-stop:
				return false
			}
		}
		problems, rows, scanErr = scanCSV(&stoppable{r: file, stop: stop}, opts, today, func(row int, e *hrgate.Employee) string {
			batch = append(batch, record{row: row, employee: e})
			if len(batch) == batchSize {
				send()
			}
			return ""
		})
		if scanErr == nil && len(batch) > 0 {
			send()
		}
	}()
	var applyErr error
	for batch := range batches {
		if applyErr != nil {
			continue
		}
		if applyErr = y.apply(ctx, batch); applyErr != nil {
			close(stop) // the reader ends at its next read
		}
	}
	switch {
	case applyErr != nil:
		return applyErr
	case scanErr != nil:
		return scanErr
	case problems.bad > 0 || rows != wantRows:
		return hrgate.Errorf(hrgate.ECONFLICT, "The file changed while it was imported; nothing was imported.")
	}
	return nil
}

// errStopped ends the read of a file whose import stopped.
var errStopped = errors.New("sources: the import stopped")

// stoppable is a reader that fails once stop is closed.
type stoppable struct {
	r    io.Reader
	stop <-chan struct{}
}

func (s *stoppable) Read(p []byte) (int, error) {
	select {
	case <-s.stop:
		return 0, errStopped
	default:
		return s.r.Read(p)
	}
}

// reject finishes a run that wrote nothing because of bad rows.
func (s *Service) reject(ctx context.Context, src *hrgate.Source, run *hrgate.SyncRun, problems *problemList) (*hrgate.SyncRun, error) {
	run.Created, run.Updated, run.Terminated, run.Unchanged = 0, 0, 0, 0
	run.Rejected = problems.bad
	run.Problems = problems.list
	run.Status, run.FinishedAt = hrgate.RunFailed, s.now().UTC()
	run.Error = fmt.Sprintf("%d rows rejected; nothing was imported", problems.bad)
	if err := s.store.FinishSyncRun(ctx, run); err != nil {
		return run, err
	}
	s.log.Info("CSV import rejected", "source_id", src.ID, "run_id", run.ID, "rows", run.Rows, "rejected", run.Rejected)
	if err := s.record(ctx, hrgate.AuditSourceImported, src.ID, nil, runAttrs(run)); err != nil {
		return run, err
	}
	return run, &hrgate.Error{Code: hrgate.EINVALID,
		Message: fmt.Sprintf("%d of %d rows are invalid; nothing was imported.", problems.bad, run.Rows), Err: ErrRejected}
}

// fail finishes a run that stopped on an error other than bad rows.
func (s *Service) fail(ctx context.Context, run *hrgate.SyncRun, cause error) (*hrgate.SyncRun, error) {
	run.Created, run.Updated, run.Terminated, run.Unchanged = 0, 0, 0, 0
	run.Status, run.FinishedAt, run.Error = hrgate.RunFailed, s.now().UTC(), hrgate.ErrorMessage(cause)
	// The run's own record is best effort: the cause is what the caller
	// must see.
	rctx, cancel := afterwards(ctx)
	defer cancel()
	if err := s.store.FinishSyncRun(rctx, run); err != nil {
		s.log.Error("the outcome of a failed run could not be recorded", "run_id", run.ID, "err", err)
	}
	return run, cause
}

// runAttrs are what the audit trail keeps of a run: counts, no data.
func runAttrs(r *hrgate.SyncRun) map[string]any {
	return map[string]any{"run_id": r.ID, "kind": r.Kind, "mode": r.Mode, "status": r.Status, "rows": r.Rows,
		"created": r.Created, "updated": r.Updated, "terminated": r.Terminated, "unchanged": r.Unchanged, "rejected": r.Rejected}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// scanCSV reads a CSV file, validates and normalises each row, and calls
// fn with each valid employee (fn may add a problem of its own). It
// returns every problem, the number of data rows, and an error only for
// what is not a problem of the file (a read error). A file that breaks
// the CSV syntax is reported as a problem at the row where parsing
// stopped, since nothing after it can be trusted to line up.
func scanCSV(r io.Reader, opts ImportOptions, today string, fn func(row int, e *hrgate.Employee) string) (*problemList, int, error) {
	cr := &countingReader{r: io.LimitReader(r, opts.MaxBytes+1)}
	br := bufio.NewReaderSize(cr, 64<<10)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	rd := csv.NewReader(br)
	rd.FieldsPerRecord = -1 // checked here, to report the row and go on
	rd.ReuseRecord = true
	problems := &problemList{last: -1}
	header, err := rd.Read()
	if errors.Is(err, io.EOF) {
		problems.add(hrgate.RowProblem{Row: 0, Message: "The file is empty; it needs a header row."})
		return problems, 0, nil
	}
	if err != nil {
		return problems, 0, syntaxProblem(problems, err, 0, cr.n > opts.MaxBytes, opts)
	}
	header = append([]string(nil), header...)
	lay, ps := opts.Mapping.bind(header)
	if len(ps) > 0 {
		problems.add(ps...)
		return problems, 0, nil
	}
	row := 0
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || cr.n > opts.MaxBytes {
			return problems, row, syntaxProblem(problems, err, row+1, cr.n > opts.MaxBytes, opts)
		}
		row++
		if row > opts.MaxRows {
			problems.add(hrgate.RowProblem{Row: row, Message: fmt.Sprintf("The file has more than %d rows.", opts.MaxRows)})
			return problems, row - 1, nil
		}
		if len(rec) != len(header) {
			problems.add(hrgate.RowProblem{Row: row,
				Message: fmt.Sprintf("The row has %d fields; the header has %d.", len(rec), len(header))})
			continue
		}
		e, rowProblems := lay.employee(rec, header, today)
		for i := range rowProblems {
			rowProblems[i].Row = row
		}
		problems.add(rowProblems...)
		if len(rowProblems) == 0 {
			if msg := fn(row, e); msg != "" {
				problems.add(hrgate.RowProblem{Row: row, Column: header[lay.remoteID], Message: msg})
			}
		}
	}
	if row == 0 {
		problems.add(hrgate.RowProblem{Row: 0, Message: "The file has a header but no rows."})
	}
	return problems, row, nil
}

// problemList collects the problems of an input: all of them are counted
// by row, the first hrgate.MaxRunProblems are kept.
type problemList struct {
	list []hrgate.RowProblem
	// bad is the number of rows with a problem (the header is row 0).
	bad  int
	last int
}

func (l *problemList) add(ps ...hrgate.RowProblem) {
	for _, p := range ps {
		if p.Row != l.last {
			l.bad++
			l.last = p.Row
		}
		if len(l.list) < hrgate.MaxRunProblems {
			l.list = append(l.list, p)
		}
	}
}

// syntaxProblem turns a read error into the problem that ends a scan, or
// returns it as an error when it is not the file's fault.
func syntaxProblem(problems *problemList, err error, row int, tooLarge bool, opts ImportOptions) error {
	if tooLarge {
		problems.add(hrgate.RowProblem{Row: row, Message: fmt.Sprintf("The file is larger than %d bytes.", opts.MaxBytes)})
		return nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// pe.Err is one of encoding/csv's fixed messages (bare quote,
		// extraneous quote): it never holds the file's data.
		problems.add(hrgate.RowProblem{Row: row, Message: fmt.Sprintf("Not valid CSV at line %d: %v; nothing after it was read.", pe.Line, pe.Err)})
		return nil
	}
	return hrgate.Wrap(err, "read the CSV file")
}

// employee builds the employee of one record, normalising each value and
// collecting the problems of the row.
func (l *layout) employee(rec, header []string, today string) (*hrgate.Employee, []hrgate.RowProblem) {
	e := &hrgate.Employee{Loaded: l.groups}
	var ps []hrgate.RowProblem
	for i, raw := range rec {
		v := trimSpace(raw)
		if i == l.remoteID {
			if p := checkRemoteID(v); p != "" {
				ps = append(ps, hrgate.RowProblem{Column: header[i], Message: p})
			} else {
				e.RemoteID = v
			}
			continue
		}
		f := l.fields[i]
		if f == nil {
			continue
		}
		norm, p := f.parse(v)
		if p != "" {
			ps = append(ps, hrgate.RowProblem{Column: header[i], Message: p})
			continue
		}
		f.set(e, norm)
	}
	if len(ps) == 0 {
		for _, p := range checkRow(e, l.groups, today) {
			if p.Column != "" {
				p.Column = l.columnOf(header, p.Column)
			}
			ps = append(ps, p)
		}
	}
	return e, ps
}

// columnOf returns the header name of the column that gives field name.
func (l *layout) columnOf(header []string, name string) string {
	for i, f := range l.fields {
		if f != nil && f.name == name {
			return header[i]
		}
	}
	return name
}

// trimSpace removes the spaces and tabs around a value, which exports
// often pad with; other white space is refused as a control character.
func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
