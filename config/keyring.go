package config

import (
	"path/filepath"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyring"
)

// MasterKeyEnv names the environment variable that may hold the master key,
// base64-encoded, instead of a key file. It is not a configuration key: the
// key is read once at start and never echoed.
const MasterKeyEnv = "HRGATE_MASTER_KEY"

// NewMasterKeyEnv may hold the new master key, base64-encoded, for
// `hrgate keyring rekey`. Like MasterKeyEnv it is not a configuration key.
const NewMasterKeyEnv = "HRGATE_MASTER_KEY_NEW"

// Keyring configures field encryption and the key store.
type Keyring struct {
	// KeyFile holds the master key that wraps every key-encryption key.
	// Empty means master.key in the data directory, generated at first
	// start with mode 0600. HRGATE_MASTER_KEY, when set, takes its place.
	KeyFile string `yaml:"key_file"`
	// Database is the key store: a postgres:// URL or a SQLite file path.
	// Empty means keys.db in the data directory on SQLite, and the data
	// database on PostgreSQL. Crypto-shredding holds against a backup of
	// the data only while the key store is not in that backup.
	Database string `yaml:"database" secret:"url"`
	// EncryptConfidential lists the confidential field groups (contact,
	// personal) to store encrypted. Restricted groups are always
	// encrypted. The default is every confidential group.
	EncryptConfidential []string `yaml:"encrypt_confidential"`
	// CacheSize bounds how many unwrapped data keys are kept in memory.
	CacheSize int `yaml:"cache_size"`
	// CacheTTL bounds how long an unwrapped data key is kept in memory,
	// and so how late an erase made by another instance takes effect here.
	CacheTTL Duration `yaml:"cache_ttl"`
	// RewrapInterval is how often `serve` looks for data keys or fields
	// still under an old key version.
	RewrapInterval Duration `yaml:"rewrap_interval"`
	// RewrapBatch is how many data keys one re-wrap transaction moves.
	RewrapBatch int `yaml:"rewrap_batch"`
	// RewrapRate caps the data keys re-wrapped per second, to spare a
	// busy key store; 0 means no cap.
	RewrapRate int `yaml:"rewrap_rate"`
}

func defaultKeyring() Keyring {
	return Keyring{
		EncryptConfidential: []string{"contact", "personal"},
		CacheSize:           100_000,
		CacheTTL:            Duration(time.Minute),
		RewrapInterval:      Duration(time.Minute),
		RewrapBatch:         2000,
	}
}

// KeyFilePath returns the master key file to use.
func (c *Config) KeyFilePath() string {
	if c.Keyring.KeyFile != "" {
		return c.Keyring.KeyFile
	}
	return filepath.Join(c.DataDir, "master.key")
}

// KeyStoreDSN returns the key store to open.
func (c *Config) KeyStoreDSN() string {
	switch {
	case c.Keyring.Database != "":
		return c.Keyring.Database
	case hrgate.IsPostgresDSN(c.DatabaseDSN()):
		return c.DatabaseDSN()
	}
	return filepath.Join(c.DataDir, "keys.db")
}

func (k *Keyring) validate() error {
	if err := checkDSN("keyring.database", k.Database); err != nil {
		return err
	}
	for _, g := range k.EncryptConfidential {
		if g != "contact" && g != "personal" {
			return keyError("keyring.encrypt_confidential", "may list only the confidential groups contact and personal")
		}
	}
	if k.CacheSize < 1 || k.CacheSize > 10_000_000 {
		return keyError("keyring.cache_size", "must be between 1 and 10000000")
	}
	if k.CacheTTL <= 0 || k.CacheTTL > Duration(keyring.MaxCacheTTL) {
		return keyError("keyring.cache_ttl", "must be more than 0 and at most 1h")
	}
	if k.RewrapInterval < Duration(time.Second) {
		return keyError("keyring.rewrap_interval", "must be at least 1s")
	}
	if k.RewrapBatch < 1 || k.RewrapBatch > 100_000 {
		return keyError("keyring.rewrap_batch", "must be between 1 and 100000")
	}
	if k.RewrapRate < 0 {
		return keyError("keyring.rewrap_rate", "must be 0 (no cap) or more")
	}
	return nil
}
