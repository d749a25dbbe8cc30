package http

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/grant"
	"github.com/hrgate/hrgate/sources"
)

// maxImportBytes caps the CSV file of one import over HTTP, as the CLI
// caps a file: the body is streamed to a temporary file, never held in
// memory. It replaces http.max_body_bytes on the import routes only
// (bodyLimit).
const maxImportBytes = sources.DefaultMaxBytes

// bodyLimit returns the body cap of a request: maxImportBytes for a CSV
// import into a source, http.max_body_bytes for everything else.
func (s *Server) bodyLimit(r *http.Request, def int64) int64 {
	if s.sources != nil && r.Method == http.MethodPost && isImportPath(r.URL.Path) {
		return maxImportBytes
	}
	return def
}

// isImportPath reports whether path is /v1/sources/{id}/imports or
// /admin/v1/sources/{id}/imports.
func isImportPath(path string) bool {
	rest, ok := strings.CutPrefix(path, "/admin")
	if !ok {
		rest = path
	}
	rest, ok = strings.CutPrefix(rest, "/v1/sources/")
	if !ok {
		return false
	}
	id, ok := strings.CutSuffix(rest, "/imports")
	return ok && id != "" && !strings.Contains(id, "/")
}

// grantedSource returns the source of the path for a principal whose
// grant includes sources:read (or sources:write when write is set) and
// reaches the source's company; a test key reaches sandbox companies
// only, so it never imports into live data. A source outside the grant
// answers exactly as one that does not exist.
func (s *Server) grantedSource(ctx context.Context, p *gate.Principal, id string, write bool) (*hrgate.Source, error) {
	if write && !p.Grant.CanWrite(grant.ResourceSources) {
		return nil, hrgate.Errorf(hrgate.EFORBIDDEN, "This credential's grant does not include sources:write.")
	}
	if !write && !p.Grant.CanRead(grant.ResourceSources) {
		return nil, hrgate.Errorf(hrgate.EFORBIDDEN, "This credential's grant does not include sources:read.")
	}
	if !hrgate.ValidID(hrgate.PrefixSource, id) {
		return nil, hrgate.ErrNotFound("Source")
	}
	src, err := s.sources.Source(ctx, id)
	if err != nil {
		return nil, err
	}
	cs, err := s.store.FindCompanies(ctx, hrgate.CompanyFilter{Scope: p.CompanyScope(), ID: src.CompanyID, Page: hrgate.Page{Limit: 1}})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, hrgate.ErrNotFound("Source")
	}
	return src, nil
}

// sourceImport serves POST /v1/sources/{id}/imports: a CSV file into a
// CSV source of a granted company, for sources:write.
func (s *Server) sourceImport(w http.ResponseWriter, r *http.Request, q query, p *gate.Principal) error {
	ctx := r.Context()
	src, err := s.grantedSource(ctx, p, r.PathValue("id"), true)
	if err != nil {
		return err
	}
	requestInfoFrom(ctx).target = src.ID
	return s.importCSV(w, r.WithContext(withConsumerActor(ctx, p)), src, q)
}

// importCSV streams the request body, a CSV file, to a temporary file
// (ImportCSV reads a file twice) and imports it: 201 with the run, or
// 422 with the run's problems when rows were refused.
func (s *Server) importCSV(w http.ResponseWriter, r *http.Request, src *hrgate.Source, q query) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "text/csv" {
		return hrgate.Errorf(hrgate.EINVALID, "Send the file with Content-Type: text/csv.")
	}
	mode := q.get("mode")
	if mode != "" && mode != sources.ModeUpsert && mode != sources.ModeSnapshot {
		return hrgate.Errorf(hrgate.EINVALID, "mode is upsert or snapshot.")
	}
	if src.Type != hrgate.SourceCSV {
		return hrgate.Errorf(hrgate.EINVALID, "Source %s is a %s source; only CSV sources import files.", src.Name, src.Type)
	}
	// In the data directory, mode 0600 (CreateTemp): the file holds HR
	// data until the import ends.
	f, err := os.CreateTemp(s.cfg.DataDir, importTempPattern)
	if err != nil {
		return hrgate.Wrap(err, "create the import's temporary file")
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	if _, err := io.Copy(f, r.Body); err != nil {
		var maxErr *http.MaxBytesError
		var fileErr *fs.PathError
		switch {
		case errors.As(err, &maxErr):
			return hrgate.Errorf(hrgate.ETOOLARGE, "A CSV file is at most %d bytes.", maxErr.Limit)
		case errors.As(err, &fileErr):
			// The temporary file could not be written (a full disk):
			// the server's failure, not the client's.
			return hrgate.Wrap(err, "write the import's temporary file")
		}
		return hrgate.Errorf(hrgate.EINVALID, "The file could not be read to its end.")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return hrgate.Wrap(err, "rewind the import's temporary file")
	}
	run, err := s.sources.ImportCSV(r.Context(), src.ID, f, sources.ImportOptions{Mode: mode, MaxBytes: maxImportBytes})
	if err != nil {
		if errors.Is(err, sources.ErrRejected) && run != nil {
			s.writeRejected(w, r, err, run)
			return nil
		}
		return err
	}
	return writeValue(w, http.StatusCreated, run)
}

// sourceRuns serves GET /v1/sources/{id}/runs: the newest runs of a
// source of a granted company, for sources:read.
func (s *Server) sourceRuns(w http.ResponseWriter, r *http.Request, q query, p *gate.Principal) error {
	src, err := s.grantedSource(r.Context(), p, r.PathValue("id"), false)
	if err != nil {
		return err
	}
	limit, err := q.limit(s.cfg.API.DefaultPageSize, s.cfg.API.MaxPageSize)
	if err != nil {
		return err
	}
	return s.writeRuns(w, r, src, limit)
}

// writeRuns answers the newest runs of src, at most limit, newest first.
func (s *Server) writeRuns(w http.ResponseWriter, r *http.Request, src *hrgate.Source, limit int) error {
	runs, err := s.sources.Runs(r.Context(), src.ID, limit)
	if err != nil {
		return err
	}
	info := requestInfoFrom(r.Context())
	info.target, info.object = src.ID, "sync_run"
	return writeValue(w, http.StatusOK, dataOf(runs))
}

// importTempPattern names the temporary files of HTTP imports in the data
// directory.
const importTempPattern = ".import-*.csv"

// RemoveStaleImports deletes the temporary files of HTTP imports in
// dataDir last modified more than olderThan before now: a process that
// died during an import left its file, which holds HR data, behind.
// serve calls it at start; the age spares the files of imports another
// process sharing the directory is running. It returns how many it
// deleted and the errors of those it could not delete: one such file
// does not keep the others.
//
// It lists dataDir and matches names, not a glob of dataDir joined with
// the pattern, which would read glob characters in the directory's name
// ("/srv/hr[1]") as a pattern.
func RemoveStaleImports(dataDir string, olderThan time.Duration, now time.Time) (int, error) {
	entries, err := os.ReadDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // no directory, no files
	}
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		if ok, _ := filepath.Match(importTempPattern, e.Name()); !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || now.Sub(fi.ModTime()) < olderThan {
			continue // gone since the listing, or recent
		}
		if err := os.Remove(filepath.Join(dataDir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
