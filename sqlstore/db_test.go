package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

func TestMigrate(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		n, err := db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = 1`)
		if err != nil || n != 1 {
			t.Fatalf("schema_migrations rows for version 1 = %d, %v; want 1", n, err)
		}

		t.Run("Idempotent", func(t *testing.T) {
			applied, err := db.Migrate(ctx)
			if err != nil || applied != 0 {
				t.Fatalf("Migrate again = %d, %v; want 0, nil", applied, err)
			}
			// A second instance starting later applies nothing either.
			other := MustOpenDB(t, dsn)
			if applied, err := other.Migrate(ctx); err != nil || applied != 0 {
				t.Fatalf("Migrate from another handle = %d, %v; want 0, nil", applied, err)
			}
			n, err := db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM schema_migrations`)
			if want := db.MigrationCountForTest(); err != nil || n != want {
				t.Fatalf("schema_migrations rows = %d, %v; want %d", n, err, want)
			}
		})

		t.Run("ErrNewerSchema", func(t *testing.T) {
			if err := db.ExecForTest(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, 999, 0); err != nil {
				t.Fatal(err)
			}
			for _, auto := range []bool{false, true} {
				db2, err := sqlstore.Open(ctx, dsn, sqlstore.Options{AutoMigrate: auto})
				if err == nil {
					db2.Close()
					t.Fatalf("Open(AutoMigrate=%v) of a newer schema succeeded", auto)
				}
				if !strings.Contains(err.Error(), "version 999") {
					t.Errorf("Open(AutoMigrate=%v) error = %v; want it to name the version", auto, err)
				}
			}
			if _, err := db.Migrate(ctx); err == nil {
				t.Fatal("Migrate of a newer schema succeeded")
			}
		})
	})
}

func TestMigrate_Concurrent(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		var wg sync.WaitGroup
		total := make(chan int, 4)
		for range 4 {
			wg.Go(func() {
				db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
				if err != nil {
					t.Error(err)
					return
				}
				defer db.Close()
				n, err := db.Migrate(ctx)
				if err != nil {
					t.Error(err)
				}
				total <- n
			})
		}
		wg.Wait()
		close(total)
		sum := 0
		for n := range total {
			sum += n
		}
		if want := MustOpenDB(t, dsn).MigrationCountForTest(); sum != want {
			t.Fatalf("migrations applied by 4 racing instances = %d, want %d (each once)", sum, want)
		}
	})
}

func TestDialect(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			db := MustOpenDB(t, b.dsn(t))
			if got := db.Dialect(); got != b.name {
				t.Fatalf("Dialect() = %q, want %q", got, b.name)
			}
			if err := db.Ping(context.Background()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	}
}

func TestOpen_SQLiteFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "hrgate")
	path := filepath.Join(dir, "hrgate.db")
	db := MustOpenDB(t, path)
	mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{newCompany(t, newIDs(1), "acme", false)}})

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %o, want 700", got)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			if p == path {
				t.Fatal(err)
			}
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %o, want 600", filepath.Base(p), got)
		}
	}
}

func TestOpen_SQLitePathIsDirectory(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlstore.Open(context.Background(), dir, sqlstore.Options{AutoMigrate: true})
	if err == nil {
		db.Close()
		t.Fatal("Open of a directory succeeded")
	}
	if !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("error = %v; want it to say the path is a directory", err)
	}
}

func TestOpen_Errors(t *testing.T) {
	for _, dsn := range []string{
		"", ":memory:", "file:hrgate.db?mode=memory", "mysql://root:s3cret@db/hrgate",
		"postgres://u:s3cr%t@db:5432/x", "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=1",
		"host=db user=hrgate password=s3cret dbname=hrgate",
	} {
		db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Open(%q) error leaks the password: %v", dsn, err)
		}
	}
}

func TestOpen_SQLiteOddPath(t *testing.T) {
	// URI syntax in a file name must not be interpreted.
	path := filepath.Join(t.TempDir(), "a b?mode=ro#x%41.db")
	db := MustOpenDB(t, path)
	mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{newCompany(t, newIDs(1), "acme", false)}})
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
}

func TestSecret(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		t.Run("Concurrent", func(t *testing.T) {
			const n = 10
			got := make([][]byte, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					v, err := db.Secret(ctx, "cursor-key", func() ([]byte, error) {
						return []byte{byte(i), 1, 2, 3}, nil
					})
					if err != nil {
						t.Error(err)
					}
					got[i] = v
				})
			}
			wg.Wait()
			for i := range n {
				if string(got[i]) != string(got[0]) || len(got[i]) != 4 {
					t.Fatalf("Secret values differ: %v", got)
				}
			}
			// Later calls return the stored value without creating.
			v, err := db.Secret(ctx, "cursor-key", func() ([]byte, error) {
				t.Fatal("create called for an existing secret")
				return nil, nil
			})
			if err != nil || string(v) != string(got[0]) {
				t.Fatalf("Secret = %v, %v; want %v", v, err, got[0])
			}
		})
		t.Run("CreateFails", func(t *testing.T) {
			_, err := db.Secret(ctx, "other", func() ([]byte, error) { return nil, os.ErrPermission })
			wantCode(t, err, hrgate.EINTERNAL)
		})
	})
}
