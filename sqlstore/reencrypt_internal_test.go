package sqlstore

import (
	"encoding/binary"
	"testing"
)

// TestEncStateFormats: the state written before the settled round existed
// (V1) still reads, with no round settled; the current format keeps every
// counter; a settled round beyond the rotation round is refused.
func TestEncStateFormats(t *testing.T) {
	v1 := []byte{encStateV1}
	for _, v := range []uint64{3, 2, 5, 4} {
		v1 = binary.AppendUvarint(v1, v)
	}
	got, err := decodeEncState(v1)
	if want := (encState{strict: 3, indexDone: 2, dekTarget: 5, dekDone: 4}); err != nil || got != want {
		t.Fatalf("V1 state = %+v, %v; want %+v", got, err, want)
	}
	want := encState{strict: 3, indexDone: 2, dekTarget: 5, dekDone: 4, dekSettled: 4}
	if got, err := decodeEncState(want.encode()); err != nil || got != want {
		t.Fatalf("state round trip = %+v, %v; want %+v", got, err, want)
	}
	if _, err := decodeEncState(encState{dekTarget: 1, dekSettled: 2}.encode()); err == nil {
		t.Fatal("a settled round beyond the rotation round decoded")
	}
	if _, err := decodeEncState(append(v1, 0)); err == nil {
		t.Fatal("a V1 state with a trailing byte decoded")
	}
}
