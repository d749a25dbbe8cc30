package keyring

import "crypto/cipher"

// KeptAEADForTest returns the AES-GCM instance that version of owner's
// cached data keys keeps, nil when it keeps none or the keys are not
// cached. Tests use it to tell what a read leaves in the cache.
func (k *Keyring) KeptAEADForTest(owner string, version int) cipher.AEAD {
	o, ok := k.cache.Get(owner)
	if !ok {
		return nil
	}
	vk, ok := o.find(version)
	if !ok {
		return nil
	}
	if a := vk.aead.Load(); a != nil {
		return a.AEAD
	}
	return nil
}

// OnceAEADForTest returns the AES-GCM instance an OpenRecordOnce opener
// opened its last field with, nil before its first open.
func (r *RecordOpener) OnceAEADForTest() cipher.AEAD { return r.onceAEAD }
