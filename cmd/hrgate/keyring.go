package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
	ks, err := sqlstore.OpenKeyStore(ctx, m.Config.KeyStoreDSN(), sqlstore.Options{AutoMigrate: true, Logger: m.Logger})
	if err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	m.KeyStore = ks
	hasKeys, err := ks.HasKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	path := m.Config.KeyFilePath()
	mk, err := keyring.LoadMasterKey(path, m.env(config.MasterKeyEnv))
	if errors.Is(err, keyring.ErrNoMasterKey) {
		if hasKeys {
			return nil, fmt.Errorf("the key store holds a keyring, but there is no master key: %s does not exist and %s is not set; "+
				"restore the master key this key store was created with (a new key would not open it)", path, config.MasterKeyEnv)
		}
		if mk, err = keyring.CreateMasterKey(path, nil); err == nil && mk.Created {
			m.Logger.Warn("generated a new master key; back it up apart from the database backups, or the encrypted fields are lost with it",
				"path", path)
		}
	}
	if err != nil {
		return nil, err
	}
	provider, err := keyring.NewLocalProvider(mk.Key, nil)
	if err != nil {
		return nil, err
	}
	kr, err := keyring.Open(ctx, ks, provider, keyring.Options{
		CacheSize: m.Config.Keyring.CacheSize,
		CacheTTL:  time.Duration(m.Config.Keyring.CacheTTL),
		Logger:    m.Logger,
	})
	if err != nil {
		return nil, err
	}
	m.Keyring = kr
	return kr, nil
}
