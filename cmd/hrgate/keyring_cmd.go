package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/keyring"
)

func (m *Main) keyringCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keyring",
		Short: "Inspect and rotate the keys that encrypt stored data",
		Long: "The master key (key file or HRGATE_MASTER_KEY) wraps versioned key-encryption keys (KEKs) and index keys; " +
			"the KEKs wrap one data key per employee, which encrypts that employee's fields. " +
			"See docs/keyring.md for the procedures.",
	}
	cmd.AddCommand(m.keyringStatusCommand(), m.keyringRotateCommand(), m.keyringRewrapCommand(),
		m.keyringRetireCommand(), m.keyringGenerateCommand(), m.keyringRekeyCommand())
	return cmd
}

// openKeyringCmd loads the configuration and opens the existing keyring,
// without the data store: the keyring commands need only the key store.
func (m *Main) openKeyringCmd(cmd *cobra.Command) (*keyring.Keyring, *keyring.MasterKey, error) {
	if err := m.loadConfig(cmd); err != nil {
		return nil, nil, err
	}
	return m.openExistingKeyring(cmd.Context())
}

// keyringStatus is what `keyring status --output json` prints.
type keyringStatus struct {
	*keyring.Status
	// MasterKeySource is the key file's path, or HRGATE_MASTER_KEY.
	MasterKeySource string `json:"master_key_source"`
}

func (m *Main) keyringStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the key versions, the data keys each wraps, and the progress of re-wrapping",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, mk, err := m.openKeyringCmd(cmd)
			if err != nil {
				return err
			}
			st, err := kr.Status(cmd.Context())
			if err != nil {
				return err
			}
			if m.output == "json" {
				return m.printJSON(keyringStatus{Status: st, MasterKeySource: keySource(mk)})
			}
			return m.printKeyringStatus(st, keySource(mk))
		},
	}
}

func (m *Main) printKeyringStatus(st *keyring.Status, source string) error {
	w := m.Stdout
	fmt.Fprintf(w, "Keyring:     %s\nMaster key:  %s (from %s)\nData keys:   %d\n", st.KeyringID, st.Root, source, st.DataKeys)
	for _, sec := range []struct {
		purpose, title, header string
		kek                    bool
	}{
		{hrgate.PurposeKEK, "Key-encryption keys", "VERSION\tSTATE\tCREATED\tRETIRED\tDATA KEYS", true},
		{hrgate.PurposeIndex, "Index keys", "VERSION\tSTATE\tCREATED\tRETIRED", false},
	} {
		fmt.Fprintf(w, "\n%s\n", sec.title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, sec.header)
		for _, v := range st.Keys {
			if v.Purpose != sec.purpose {
				continue
			}
			retired := "-"
			if v.RetiredAt != nil {
				retired = v.RetiredAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s", v.Version, v.State, v.CreatedAt.Format(time.RFC3339), retired)
			if sec.kek {
				fmt.Fprintf(tw, "\t%d", v.DataKeys)
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if st.Pending > 0 {
		fmt.Fprintf(w, "Re-wrap: %d of %d data keys (%d%%) still wait to be re-wrapped under version %d. "+
			"hrgate serve does it in the background; hrgate keyring rewrap does it now.\n",
			st.Pending, st.DataKeys, st.Pending*100/max(st.DataKeys, 1), st.ActiveKEK)
		return nil
	}
	fmt.Fprintf(w, "Re-wrap: done; every data key is under key-encryption key version %d.\n", st.ActiveKEK)
	m.printRetirable(st)
	return nil
}

// printRetirable names the key-encryption key versions that wrap no data
// key any more, with the command that retires each.
func (m *Main) printRetirable(st *keyring.Status) {
	for _, v := range st.Keys {
		if v.Purpose == hrgate.PurposeKEK && v.State == hrgate.KeyDecryptOnly && v.DataKeys == 0 {
			fmt.Fprintf(m.Stdout, "Version %d wraps no data key any more; retire it with: hrgate keyring retire %d\n", v.Version, v.Version)
		}
	}
}

func (m *Main) keyringRotateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate [--index]",
		Short: "Create a new key-encryption key version (or, with --index, a new index key version)",
		Long: "Create a new version of the key-encryption key, which wraps every new data key from now on. " +
			"The existing data keys are re-wrapped under it by hrgate serve in the background, or at once by hrgate keyring rewrap; " +
			"nothing stops serving meanwhile. With --index, create a new version of the blind-index key instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			index, _ := cmd.Flags().GetBool("index")
			kr, _, err := m.openKeyringCmd(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			purpose := hrgate.PurposeKEK
			if index {
				purpose = hrgate.PurposeIndex
			}
			v, err := kr.Rotate(ctx, purpose)
			if err != nil {
				return err
			}
			st, err := kr.Status(ctx)
			if err != nil {
				return err
			}
			if m.output == "json" {
				return m.printJSON(map[string]any{"purpose": purpose, "version": v, "pending_rewrap": st.Pending})
			}
			w := m.Stdout
			if index {
				fmt.Fprintf(w, "Created index key version %d; new blind indexes are computed with it.\n"+
					"Searches also use the older versions until hrgate serve has recomputed the stored indexes under version %d.\n", v, v)
				return nil
			}
			fmt.Fprintf(w, "Created key-encryption key version %d; new data keys are wrapped under it.\n", v)
			if st.Pending == 0 {
				fmt.Fprintf(w, "No data key needs re-wrapping; retire version %d with: hrgate keyring retire %d\n", v-1, v-1)
				return nil
			}
			fmt.Fprintf(w, "%d data keys are still under older versions. A running hrgate serve re-wraps them in the background "+
				"(it looks every keyring.rewrap_interval, now %s); to do it now, run: hrgate keyring rewrap\n"+
				"Follow the progress with hrgate keyring status, then retire the old version with: hrgate keyring retire %d\n",
				st.Pending, time.Duration(m.Config.Keyring.RewrapInterval), v-1)
			return nil
		},
	}
	cmd.Flags().Bool("index", false, "rotate the blind-index key instead of the key-encryption key")
	return cmd
}

func (m *Main) keyringRewrapCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rewrap",
		Short: "Re-wrap every data key under the active key-encryption key now, showing progress",
		Long: "Re-wrap, in the foreground, every data key still under an older key-encryption key version. " +
			"Each batch is committed on its own: Ctrl-C stops after the batch under way, and running the command again " +
			"(or hrgate serve) resumes where it stopped. Safe to run while hrgate serve runs.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, _, err := m.openKeyringCmd(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := kr.Status(ctx)
			if err != nil {
				return err
			}
			text := m.output != "json"
			if text {
				if st.Pending == 0 {
					fmt.Fprintf(m.Stdout, "Nothing to re-wrap: every data key is under key-encryption key version %d.\n", st.ActiveKEK)
				} else {
					fmt.Fprintf(m.Stdout, "Re-wrapping %d data keys under key-encryption key version %d (Ctrl-C stops; run again to resume).\n",
						st.Pending, st.ActiveKEK)
				}
			}
			var last time.Time
			n, err := kr.RewrapReport(ctx, func(p keyring.RewrapProgress) {
				if text && time.Since(last) >= time.Second {
					last = time.Now()
					fmt.Fprintf(m.Stdout, "  %d re-wrapped, about %d left\n", p.Done, p.Pending)
				}
			})
			if ctx.Err() != nil {
				// Interrupted: say where it stands, with a context that
				// still works.
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				left := "some"
				if st, serr := kr.Status(sctx); serr == nil {
					left = strconv.Itoa(st.Pending)
				}
				return fmt.Errorf("interrupted after re-wrapping %d data keys; %s still wait. "+
					"Run hrgate keyring rewrap again to resume, or let hrgate serve finish", n, left)
			}
			if err != nil {
				return err
			}
			st, err = kr.Status(ctx)
			if err != nil {
				return err
			}
			if !text {
				return m.printJSON(map[string]any{"rewrapped": n, "pending_rewrap": st.Pending, "kek_version": st.ActiveKEK})
			}
			if n > 0 {
				fmt.Fprintf(m.Stdout, "Re-wrapped %d data keys.\n", n)
			}
			if st.Pending > 0 {
				// Keys created under an old version by an instance that
				// had not seen the rotation yet; the next run takes them.
				fmt.Fprintf(m.Stdout, "%d data keys appeared under an older version meanwhile; run hrgate keyring rewrap again.\n", st.Pending)
				return nil
			}
			m.printRetirable(st)
			return nil
		},
	}
}

func (m *Main) keyringRetireCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retire VERSION",
		Short: "Destroy a key-encryption key version that no data key uses any more",
		Long: "Destroy a key-encryption key version for good. It is refused for the active version and for a version " +
			"that still wraps data keys (wait for the re-wrap, see hrgate keyring status). Backups of the key store " +
			"made before still hold the version.",
		Example: "  hrgate keyring retire 1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.Atoi(args[0])
			if err != nil || v < 1 {
				return hrgate.Errorf(hrgate.EINVALID, "VERSION must be a key-encryption key version number, such as 1; not %q", args[0])
			}
			kr, _, err := m.openKeyringCmd(cmd)
			if err != nil {
				return err
			}
			if err := kr.RetireKEK(cmd.Context(), v); err != nil {
				return err
			}
			return m.report(map[string]any{"purpose": hrgate.PurposeKEK, "version": v, "state": hrgate.KeyRetired},
				"Retired key-encryption key version %d: its key material is destroyed in the key store "+
					"(backups of the key store made before still hold it).\n", v)
		},
	}
}

func (m *Main) keyringGenerateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "generate-master-key",
		Short: "Print a new random master key (base64) for HRGATE_MASTER_KEY or a key file",
		Long: "Print a new random 256-bit master key, base64-encoded, on standard output and nowhere else: " +
			"for HRGATE_MASTER_KEY, a secret manager, a key file (chmod 600), or hrgate keyring rekey. " +
			"It reads no configuration and changes nothing.",
		Example: "  hrgate keyring generate-master-key > new-master.key && chmod 600 new-master.key",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			key := make([]byte, keyring.MasterKeySize)
			if _, err := io.ReadFull(rand.Reader, key); err != nil {
				return fmt.Errorf("generate master key: %w", err)
			}
			defer clear(key)
			if m.output == "json" {
				return m.printJSON(map[string]string{"master_key": keyring.EncodeMasterKey(key)})
			}
			_, err := fmt.Fprintln(m.Stdout, keyring.EncodeMasterKey(key))
			return err
		},
	}
}

func (m *Main) keyringRekeyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rekey --new-key-file PATH",
		Short: "Re-wrap the keyring under a new master key, in one transaction",
		Long: "Re-wrap every key-encryption and index key version under a new master key, all in one transaction of the key store: " +
			"afterwards the keyring opens with the new master key only. Data keys and fields are not touched. " +
			"The new key comes from --new-key-file (created, mode 0600, when it does not exist) or from " + config.NewMasterKeyEnv + ". " +
			"The current key file is left as it is: replace it (or HRGATE_MASTER_KEY) with the new key on every instance and restart them.",
		Example: "  hrgate keyring rekey --new-key-file /var/lib/hrgate/master.key.new",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			newPath, _ := cmd.Flags().GetString("new-key-file")
			if err := m.loadConfig(cmd); err != nil {
				return err
			}
			newEnv := m.env(config.NewMasterKeyEnv)
			switch {
			case newPath == "" && newEnv == "":
				return hrgate.Errorf(hrgate.EINVALID, "Give the new master key: --new-key-file PATH, or %s.", config.NewMasterKeyEnv)
			case newPath != "" && newEnv != "":
				return hrgate.Errorf(hrgate.EINVALID, "Give the new master key once: --new-key-file or %s, not both.", config.NewMasterKeyEnv)
			case newPath != "" && samePath(newPath, m.Config.KeyFilePath()):
				return hrgate.Errorf(hrgate.EINVALID, "--new-key-file must name another file than the current master key file %s.", m.Config.KeyFilePath())
			}
			kr, oldKey, err := m.openExistingKeyring(cmd.Context())
			if err != nil {
				return err
			}
			newKey, err := m.loadNewMasterKey(newPath, newEnv)
			if err != nil {
				return err
			}
			defer clear(newKey.Key)
			oldProvider, err := keyring.NewLocalProvider(oldKey.Key, nil)
			if err != nil {
				return err
			}
			newProvider, err := keyring.NewLocalProvider(newKey.Key, nil)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := keyring.Rekey(ctx, m.KeyStore, oldProvider, newProvider); err != nil {
				if newKey.Created {
					return fmt.Errorf("%s; the key store still opens with the current master key (the new key file %s was not used)", errorText(err), newPath)
				}
				return err
			}
			// Prove it: the keyring opens with the new key.
			if _, err := keyring.Open(ctx, m.KeyStore, newProvider, m.keyringOptions()); err != nil {
				return fmt.Errorf("the key store was re-wrapped, but does not open with the new master key: %w", err)
			}
			m.Logger.Info("re-wrapped the keyring under a new master key", "keyring", kr.ID(), "old", oldProvider.ID(), "new", newProvider.ID())
			if m.output == "json" {
				return m.printJSON(map[string]any{"keyring_id": kr.ID(), "old_root": oldProvider.ID(), "new_root": newProvider.ID(),
					"new_master_key_source": keySource(newKey)})
			}
			return m.printRekeyDone(oldKey, newKey, oldProvider.ID(), newProvider.ID())
		},
	}
	cmd.Flags().String("new-key-file", "", "file holding the new master key; created with a fresh key when it does not exist")
	return cmd
}

// loadNewMasterKey reads the new master key of rekey from the file at
// path, creating it with a fresh key when it does not exist, or from the
// variable's value.
func (m *Main) loadNewMasterKey(path, envValue string) (*keyring.MasterKey, error) {
	if envValue != "" {
		mk, err := keyring.LoadMasterKey("", envValue)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", config.NewMasterKeyEnv, errors.Unwrap(err))
		}
		mk.Source = config.NewMasterKeyEnv
		return mk, nil
	}
	mk, err := keyring.LoadMasterKey(path, "")
	if errors.Is(err, keyring.ErrNoMasterKey) {
		return keyring.CreateMasterKey(path, nil)
	}
	return mk, err
}

func (m *Main) printRekeyDone(oldKey, newKey *keyring.MasterKey, oldID, newID string) error {
	w := m.Stdout
	fmt.Fprintf(w, "The keyring is now wrapped by master key %s (from %s); the old master key %s no longer opens it.\n\n", newID, keySource(newKey), oldID)
	fmt.Fprintln(w, "Next:")
	switch {
	case newKey.Source == config.NewMasterKeyEnv:
		fmt.Fprintf(w, "  1. Set %s to the value of %s for every hrgate instance and command", config.MasterKeyEnv, config.NewMasterKeyEnv)
		if oldKey.Source != "env" {
			fmt.Fprintf(w, " (or write it to %s)", oldKey.Source)
		}
		fmt.Fprintln(w, ", and restart the running instances.")
	case oldKey.Source == "env":
		fmt.Fprintf(w, "  1. Set %s to the key in %s (or unset it and point keyring.key_file at that file) for every hrgate instance and command, and restart the running instances.\n",
			config.MasterKeyEnv, newKey.Source)
	default:
		fmt.Fprintf(w, "  1. Put the new key in place on every instance, e.g.\n       mv %s %s.old && mv %s %s\n     (or point keyring.key_file at %s), and restart the running instances.\n",
			oldKey.Source, oldKey.Source, newKey.Source, oldKey.Source, newKey.Source)
	}
	fmt.Fprintln(w, "     Until then, running instances keep working with the keys they hold but cannot pick up a rotation.")
	fmt.Fprintln(w, "  2. Back up the new master key apart from the database backups.")
	fmt.Fprintln(w, "  3. Keep the old master key as long as you keep key-store backups made before now: they open only with it.")
	return nil
}

// samePath reports whether a and b may name the same file path: true
// when they do, and when they cannot be told apart (the working directory
// is unknown), which is the safe answer for every caller.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 != nil || err2 != nil || aa == bb
}
