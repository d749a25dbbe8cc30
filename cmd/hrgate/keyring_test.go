package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	main "github.com/hrgate/hrgate/cmd/hrgate"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// sealed is a value sealed through the keyring of a data directory, as
// the stores seal fields, to check that it still opens after rotations.
type sealed struct {
	owner string
	value []byte
}

func fieldOf(owner string) hrgate.FieldRef {
	return hrgate.FieldRef{Table: "employees", RecordID: owner, Field: "g_banking"}
}

// openDirKeyring opens the keyring of a data directory the way another
// hrgate instance would, with the master key in env or else in the
// directory's key file. The caller closes the returned store.
func openDirKeyring(t *testing.T, dir, env string) (*keyring.Keyring, *sqlstore.KeyStore) {
	t.Helper()
	mk, err := keyring.LoadMasterKey(filepath.Join(dir, "master.key"), env)
	if err != nil {
		t.Fatal(err)
	}
	p, err := keyring.NewLocalProvider(mk.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := sqlstore.OpenKeyStore(context.Background(), filepath.Join(dir, "keys.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := keyring.Open(context.Background(), ks, p, keyring.Options{})
	if err != nil {
		ks.Close()
		t.Fatal(err)
	}
	return k, ks
}

// sealValues creates data keys for n new owners and seals a value for
// each.
func sealValues(t *testing.T, dir, prefix string, n int) []sealed {
	t.Helper()
	k, ks := openDirKeyring(t, dir, "")
	defer ks.Close()
	out := make([]sealed, n)
	for i := range out {
		o := fmt.Sprintf("%s_%05d", prefix, i)
		v, err := k.Seal(context.Background(), o, fieldOf(o), []byte(o))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = sealed{o, v}
	}
	return out
}

// checkValues opens every value with a fresh keyring, which has no data
// key cached.
func checkValues(t *testing.T, dir, env string, vs []sealed) {
	t.Helper()
	k, ks := openDirKeyring(t, dir, env)
	defer ks.Close()
	for _, v := range vs {
		got, err := k.Open(context.Background(), v.owner, fieldOf(v.owner), v.value)
		if err != nil || string(got) != v.owner {
			t.Fatalf("Open %s = %q, %v", v.owner, got, err)
		}
	}
}

// keyringStatus runs keyring status --output json.
func keyringStatus(t *testing.T, env, dd []string) map[string]any {
	t.Helper()
	code, out, errOut := run(t, env, append([]string{"keyring", "status", "--output", "json"}, dd...)...)
	if code != 0 {
		t.Fatalf("keyring status: exit %d: %s", code, errOut)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("keyring status json: %v\n%s", err, out)
	}
	return st
}

// snapshot returns every file of dir with its content.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameFiles(t *testing.T, before, after map[string][]byte) {
	t.Helper()
	for name, b := range before {
		if a, ok := after[name]; !ok || !bytes.Equal(a, b) {
			t.Errorf("%s changed", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s appeared", name)
		}
	}
}

func TestKeyringCommands(t *testing.T) {
	dir, dd, mustRun := newDataDir(t)

	t.Run("NoKeyringYet", func(t *testing.T) {
		code, _, errOut := run(t, nil, append([]string{"keyring", "status"}, dd...)...)
		if code != 2 || !strings.Contains(errOut, "no keyring here yet") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("keyring status created the data directory (%v)", err)
		}
	})

	mustRun(t, "migrate")
	// The data store holds one data key of its own: the vault's.
	base := keyringStatus(t, nil, dd)["data_keys"].(float64)
	values := sealValues(t, dir, "emp", 120)
	n := base + 120

	t.Run("Status", func(t *testing.T) {
		st := keyringStatus(t, nil, dd)
		if st["active_kek"] != 1.0 || st["data_keys"] != n || st["pending_rewrap"] != 0.0 ||
			!strings.HasPrefix(st["root"].(string), "local:") || !strings.HasPrefix(st["keyring_id"].(string), "kr_") {
			t.Fatalf("status: %v", st)
		}
		out := mustRun(t, "keyring", "status")
		for _, want := range []string{"Key-encryption keys", "Index keys", "1        active", "Re-wrap: done"} {
			if !strings.Contains(out, want) {
				t.Fatalf("status text lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("RotateThenRetireRefusals", func(t *testing.T) {
		out := mustRun(t, "keyring", "rotate")
		if !strings.Contains(out, "version 2") || !strings.Contains(out, fmt.Sprintf("%d data keys", int(n))) || !strings.Contains(out, "hrgate keyring rewrap") {
			t.Fatalf("rotate says: %s", out)
		}
		if st := keyringStatus(t, nil, dd); st["pending_rewrap"] != n || st["active_kek"] != 2.0 {
			t.Fatalf("status after rotate: %v", st)
		}
		for _, tc := range []struct {
			name, version, want string
		}{
			{"InUse", "1", fmt.Sprintf("still wraps %d data keys", int(n))},
			{"Active", "2", "active key-encryption key"},
			{"Unknown", "7", "no key-encryption key version 7"},
			{"NotANumber", "one", "VERSION must be"},
			{"Zero", "0", "VERSION must be"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, _, errOut := run(t, nil, append([]string{"keyring", "retire", tc.version}, dd...)...)
				if code != 2 || !strings.Contains(errOut, tc.want) {
					t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, errOut, tc.want)
				}
			})
		}
		if st := keyringStatus(t, nil, dd); st["pending_rewrap"] != n {
			t.Fatalf("a refused retire changed the keyring: %v", st)
		}
	})

	t.Run("RewrapInterruptedThenResumed", func(t *testing.T) {
		env := []string{"HRGATE_KEYRING__REWRAP_BATCH=10", "HRGATE_KEYRING__REWRAP_RATE=100"}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out, errOut := &syncBuffer{}, &syncBuffer{}
		done := make(chan int, 1)
		go func() {
			done <- main.Run(ctx, append([]string{"keyring", "rewrap"}, dd...), out, errOut, env)
		}()
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(out.String(), "re-wrapped, about") {
			if time.Now().After(deadline) {
				t.Fatalf("no progress shown:\n%s\n%s", out.String(), errOut.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel() // Ctrl-C
		if code := <-done; code != 1 || !strings.Contains(errOut.String(), "interrupted after re-wrapping") ||
			!strings.Contains(errOut.String(), "again to resume") {
			t.Fatalf("interrupted rewrap: exit %d\n%s\n%s", code, out.String(), errOut.String())
		}
		pending := keyringStatus(t, nil, dd)["pending_rewrap"].(float64)
		if pending == 0 || pending == 120 {
			t.Fatalf("pending after the interruption = %v; want some but not all", pending)
		}
		out2 := mustRun(t, "keyring", "rewrap")
		if !strings.Contains(out2, fmt.Sprintf("Re-wrapped %d data keys", int(pending))) || !strings.Contains(out2, "hrgate keyring retire 1") {
			t.Fatalf("resumed rewrap says: %s", out2)
		}
		if out := mustRun(t, "keyring", "rewrap"); !strings.Contains(out, "Nothing to re-wrap") {
			t.Fatalf("a rewrap with nothing to do says: %s", out)
		}
	})

	t.Run("Retire", func(t *testing.T) {
		out := mustRun(t, "keyring", "retire", "1")
		if !strings.Contains(out, "Retired key-encryption key version 1") {
			t.Fatalf("retire says: %s", out)
		}
		mustRun(t, "keyring", "retire", "1") // again: nothing to do
		st := keyringStatus(t, nil, dd)
		keys := st["keys"].([]any)
		if v1 := keys[0].(map[string]any); v1["state"] != "retired" || v1["retired_at"] == nil {
			t.Fatalf("version 1 after retire: %v", v1)
		}
		checkValues(t, dir, "", values)
	})

	t.Run("RotateIndex", func(t *testing.T) {
		out := mustRun(t, "keyring", "rotate", "--index")
		if !strings.Contains(out, "index key version 2") {
			t.Fatalf("rotate --index says: %s", out)
		}
		if st := keyringStatus(t, nil, dd); st["active_index"] != 2.0 || st["active_kek"] != 2.0 {
			t.Fatalf("status after rotate --index: %v", st)
		}
	})

	t.Run("GenerateMasterKey", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "none")
		code, out1, errOut := run(t, nil, "keyring", "generate-master-key", "--data-dir", other)
		_, out2, _ := run(t, nil, "keyring", "generate-master-key")
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out1))
		if code != 0 || err != nil || len(key) != keyring.MasterKeySize || errOut != "" || out1 == out2 {
			t.Fatalf("generate-master-key: exit %d, %q (%v), stderr %q, second %q", code, out1, err, errOut, out2)
		}
		if _, err := os.Stat(other); !os.IsNotExist(err) {
			t.Fatal("generate-master-key created a data directory")
		}
	})

	t.Run("BadConfig", func(t *testing.T) {
		code, _, errOut := run(t, []string{"HRGATE_KEYRING__REWRAP_BATCH=0"}, append([]string{"keyring", "status"}, dd...)...)
		if code != 2 || !strings.Contains(errOut, "keyring.rewrap_batch") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}

// TestKeyringRefusesWrongOrMissingMasterKey: a command started with
// another master key, or without one, against a key store that holds a
// keyring, fails with a message that says so and changes no file.
func TestKeyringRefusesWrongOrMissingMasterKey(t *testing.T) {
	dir, dd, mustRun := newDataDir(t)
	mustRun(t, "sandbox", "seed", "--companies", "1", "--employees", "10")
	values := sealValues(t, dir, "emp", 10)
	mustRun(t, "keyring", "rotate")

	other := make([]byte, keyring.MasterKeySize)
	other[0] = 1
	wrongEnv := []string{"HRGATE_MASTER_KEY=" + keyring.EncodeMasterKey(other)}
	newKeyFile := filepath.Join(t.TempDir(), "new.key")
	commands := [][]string{
		{"keyring", "status"},
		{"keyring", "rotate"},
		{"keyring", "rewrap"},
		{"keyring", "retire", "1"},
		{"keyring", "rekey", "--new-key-file", newKeyFile},
		{"consumers", "list"},
		{"migrate"},
		{"sandbox", "seed", "--companies", "2", "--employees", "5", "--seed", "2"},
		{"serve", "--addr", "127.0.0.1:0", "--insecure-http", "--admin-addr", ""},
	}

	t.Run("WrongKey", func(t *testing.T) {
		before := snapshot(t, dir)
		for _, args := range commands {
			code, out, errOut := run(t, wrongEnv, append(args, dd...)...)
			if code != 1 || !strings.Contains(errOut, "master key") || !strings.Contains(errOut, "HRGATE_MASTER_KEY") {
				t.Errorf("%v with another master key: exit %d, stdout %q, stderr %q", args, code, out, errOut)
			}
			if strings.Contains(errOut, wrongEnv[0][len("HRGATE_MASTER_KEY="):]) {
				t.Errorf("%v repeats the master key: %s", args, errOut)
			}
		}
		sameFiles(t, before, snapshot(t, dir))
	})

	t.Run("MissingKeyFile", func(t *testing.T) {
		keyFile := filepath.Join(dir, "master.key")
		moved := filepath.Join(t.TempDir(), "master.key")
		if err := os.Rename(keyFile, moved); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, dir)
		for _, args := range commands {
			code, _, errOut := run(t, nil, append(args, dd...)...)
			if code != 1 || !strings.Contains(errOut, "there is no master key") {
				t.Errorf("%v without the key file: exit %d, stderr %q", args, code, errOut)
			}
		}
		sameFiles(t, before, snapshot(t, dir))
		if err := os.Rename(moved, keyFile); err != nil {
			t.Fatal(err)
		}
	})

	if _, err := os.Stat(newKeyFile); !os.IsNotExist(err) {
		t.Fatalf("a refused rekey wrote its new key file (%v)", err)
	}
	checkValues(t, dir, "", values)
}

func TestKeyringRekey(t *testing.T) {
	dir, dd, mustRun := newDataDir(t)
	mustRun(t, "migrate")
	values := sealValues(t, dir, "emp", 30)
	mustRun(t, "keyring", "rotate")
	mustRun(t, "keyring", "rotate", "--index")
	before := keyringStatus(t, nil, dd)

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"NoNewKey", nil, nil, "Give the new master key"},
		{"BothNewKeys", []string{"HRGATE_MASTER_KEY_NEW=" + keyring.EncodeMasterKey(make([]byte, 32))}, []string{"--new-key-file", "x"}, "not both"},
		{"SameFile", nil, []string{"--new-key-file", filepath.Join(dir, "master.key")}, "another file"},
		{"BadNewKey", []string{"HRGATE_MASTER_KEY_NEW=abc"}, nil, "HRGATE_MASTER_KEY_NEW"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, tc.env, append(append([]string{"keyring", "rekey"}, tc.args...), dd...)...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want a refusal mentioning %q", code, errOut, tc.want)
			}
		})
	}

	newFile := filepath.Join(t.TempDir(), "master.key.new")
	out := mustRun(t, "keyring", "rekey", "--new-key-file", newFile)
	if !strings.Contains(out, "now wrapped by master key") || !strings.Contains(out, "mv ") {
		t.Fatalf("rekey says: %s", out)
	}
	if st, err := os.Stat(newFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("new key file: %v %v", st, err)
	}
	// The old key file no longer opens the keyring, and says what to do.
	code, _, errOut := run(t, nil, append([]string{"keyring", "status"}, dd...)...)
	if code != 1 || !strings.Contains(errOut, "created with master key") {
		t.Fatalf("status with the old key after rekey: exit %d: %s", code, errOut)
	}
	newKey, err := keyring.LoadMasterKey(newFile, "")
	if err != nil {
		t.Fatal(err)
	}
	newEnv := []string{"HRGATE_MASTER_KEY=" + keyring.EncodeMasterKey(newKey.Key)}
	if _, _, errOut := run(t, newEnv, append([]string{"keyring", "status"}, dd...)...); !strings.Contains(errOut, "master key file is not used") {
		t.Fatalf("no warning that HRGATE_MASTER_KEY overrides the key file: %s", errOut)
	}
	after := keyringStatus(t, newEnv, dd)
	if after["root"] == before["root"] || after["keyring_id"] != before["keyring_id"] ||
		after["active_kek"] != 2.0 || after["active_index"] != 2.0 || after["data_keys"] != before["data_keys"] {
		t.Fatalf("status after rekey: %v (before %v)", after, before)
	}
	checkValues(t, dir, newEnv[0][len("HRGATE_MASTER_KEY="):], values)

	// Again, with the new key from the environment and the current one
	// from the environment too.
	third := make([]byte, keyring.MasterKeySize)
	third[31] = 3
	env := append(newEnv, "HRGATE_MASTER_KEY_NEW="+keyring.EncodeMasterKey(third))
	code, out, errOut = run(t, env, append([]string{"keyring", "rekey"}, dd...)...)
	if code != 0 || !strings.Contains(out, "Set HRGATE_MASTER_KEY to the value of HRGATE_MASTER_KEY_NEW") {
		t.Fatalf("rekey from the environment: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, keyring.EncodeMasterKey(third)) {
		t.Fatal("rekey printed the new master key")
	}
	checkValues(t, dir, keyring.EncodeMasterKey(third), values)
}

// A data store whose key store is gone is refused before a new keyring,
// key store or master key is written: a fresh keyring would open none of
// its data, and would hide what happened.
func TestLostKeyStoreIsNotRecreated(t *testing.T) {
	dir, dd, mustRun := newDataDir(t)
	mustRun(t, "sandbox", "seed", "--companies", "1", "--employees", "5")
	keys := map[string][]byte{}
	for _, name := range []string{"keys.db", "master.key"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = b
	}
	if err := os.Remove(filepath.Join(dir, "keys.db")); err != nil {
		t.Fatal(err)
	}
	commands := [][]string{
		{"migrate"},
		{"consumers", "list"},
		{"serve", "--addr", "127.0.0.1:0", "--insecure-http", "--admin-addr", ""},
	}
	check := func(t *testing.T) {
		before := snapshot(t, dir)
		for _, args := range commands {
			code, _, errOut := run(t, nil, append(args, dd...)...)
			if code != 1 || !strings.Contains(errOut, "Restore the key store") {
				t.Errorf("%v without the key store: exit %d, stderr %q", args, code, errOut)
			}
		}
		sameFiles(t, before, snapshot(t, dir))
	}
	t.Run("KeyFileKept", check)
	if err := os.Remove(filepath.Join(dir, "master.key")); err != nil {
		t.Fatal(err)
	}
	t.Run("KeyFileLostToo", check)

	// With both restored, the data store opens as before.
	for name, b := range keys {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "consumers", "list")
}
