package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// env returns the value of an environment variable of this invocation.
func (m *Main) env(name string) string {
	for _, kv := range m.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// openKeyring opens the key store and the keyring. It runs before the data
// store opens, so that a wrong or missing master key stops the command
// before anything is written: a master key is generated only when the key
// store holds no keyring yet.
func (m *Main) openKeyring(ctx context.Context) (*keyring.Keyring, error) {
	kr, _, err := m.openKeyringWith(ctx, true)
	return kr, err
}

// openExistingKeyring opens the keyring for the keyring commands, which
// manage a keyring but never create one: without a key store holding
// keys it fails, and writes nothing, not even a SQLite file.
func (m *Main) openExistingKeyring(ctx context.Context) (*keyring.Keyring, *keyring.MasterKey, error) {
	return m.openKeyringWith(ctx, false)
}

func noKeyring() error {
	return hrgate.Errorf(hrgate.ENOTFOUND, "There is no keyring here yet: hrgate creates it when it first opens the database "+
		"(hrgate serve, or hrgate migrate). Check --data-dir, --database and keyring.database.")
}

// openKeyringWith is openKeyring, creating a keyring (and its master key)
// only when create is set. It also returns the master key used.
func (m *Main) openKeyringWith(ctx context.Context, create bool) (*keyring.Keyring, *keyring.MasterKey, error) {
	dsn := m.Config.KeyStoreDSN()
	// A SQLite key store that does not exist holds no keyring: decide
	// before its file is created.
	absent := false
	if !hrgate.IsPostgresDSN(dsn) {
		_, err := os.Stat(dsn)
		absent = errors.Is(err, fs.ErrNotExist)
	}
	if absent {
		if err := m.mayCreateKeyring(ctx, create); err != nil {
			return nil, nil, err
		}
	}
	ks, err := sqlstore.OpenKeyStore(ctx, dsn, sqlstore.Options{AutoMigrate: true, Logger: m.Logger})
	if err != nil {
		return nil, nil, fmt.Errorf("open key store: %w", err)
	}
	m.KeyStore = ks
	hasKeys, err := ks.HasKeys(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("open key store: %w", err)
	}
	if !hasKeys && !absent {
		if err := m.mayCreateKeyring(ctx, create); err != nil {
			return nil, nil, err
		}
	}
	path := m.Config.KeyFilePath()
	mk, err := keyring.LoadMasterKey(path, m.env(config.MasterKeyEnv))
	if errors.Is(err, keyring.ErrNoMasterKey) {
		if hasKeys {
			return nil, nil, fmt.Errorf("the key store holds a keyring, but there is no master key: %s does not exist and %s is not set; "+
				"restore the master key this key store was created with (a new key would not open it)", path, config.MasterKeyEnv)
		}
		if mk, err = keyring.CreateMasterKey(path, nil); err == nil && mk.Created {
			m.Logger.Warn("generated a new master key; back it up apart from the database backups, or the encrypted fields are lost with it",
				"path", path)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if mk.Source == "env" {
		if _, err := os.Lstat(path); err == nil {
			m.Logger.Warn("HRGATE_MASTER_KEY is set, so the master key file is not used; remove one of them to avoid confusion", "path", path)
		}
	}
	provider, err := keyring.NewLocalProvider(mk.Key, nil)
	if err != nil {
		return nil, nil, err
	}
	kr, err := keyring.Open(ctx, ks, provider, m.keyringOptions())
	if err != nil {
		return nil, nil, fmt.Errorf("%w (the master key given was read from %s)", err, keySource(mk))
	}
	m.Keyring = kr
	return kr, mk, nil
}

// mayCreateKeyring returns nil when a new keyring may be created: create
// is set, and the data store was never opened with a keyring. A data store
// that was has lost its key store (a deleted keys.db, a wrong
// keyring.database); a new keyring would open none of its data, so the
// command stops before it writes a key store or a master key.
func (m *Main) mayCreateKeyring(ctx context.Context, create bool) error {
	if !create {
		return noKeyring()
	}
	held, err := sqlstore.HoldsKeyringData(ctx, m.Config.DatabaseDSN())
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if held {
		return fmt.Errorf("the database holds data encrypted under a keyring, but the key store (%s) holds none: "+
			"it was deleted, or keyring.database names another one. Restore the key store this database was encrypted with, "+
			"and its master key; a new keyring would open none of the encrypted data. Nothing was written",
			hrgate.RedactDSN(m.Config.KeyStoreDSN()))
	}
	return nil
}

func (m *Main) keyringOptions() keyring.Options {
	return keyring.Options{
		CacheSize:   m.Config.Keyring.CacheSize,
		CacheTTL:    time.Duration(m.Config.Keyring.CacheTTL),
		RewrapBatch: m.Config.Keyring.RewrapBatch,
		RewrapRate:  m.Config.Keyring.RewrapRate,
		Logger:      m.Logger,
	}
}

// keySource names where a master key came from, for messages.
func keySource(mk *keyring.MasterKey) string {
	if mk.Source == "env" {
		return config.MasterKeyEnv
	}
	return mk.Source
}
