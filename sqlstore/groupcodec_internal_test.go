package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"testing"

	"github.com/hrgate/hrgate"
)

func fullEmployee() *hrgate.Employee {
	return &hrgate.Employee{
		Identity:     hrgate.Identity{EmployeeNumber: "E1", FirstName: "Zoë", LastName: "Ørsted 山田", PreferredName: "", WorkEmail: "z@x.example"},
		Employment:   hrgate.Employment{JobTitle: "Eng", Department: "R&D", ManagerID: "emp_1", WorkLocationID: "loc_1", StartDate: "2020-01-01", TerminationDate: "", Status: hrgate.StatusActive, Type: hrgate.TypeFullTime},
		Contact:      hrgate.Contact{PersonalEmail: "p@example.org", Phone: "+44 7700 900123", HomeAddress: hrgate.Address{Line1: "1 rue", City: "Paris", Country: "FR"}},
		Personal:     hrgate.Personal{DateOfBirth: "1990-02-03", Gender: "female"},
		Compensation: hrgate.Compensation{PayRate: "85000.00", PayPeriod: "year", PayCurrency: "EUR", PayFrequency: "monthly"},
		Banking:      hrgate.BankAccount{IBAN: "FR7630006000011234567890189", AccountHolder: "Zoë"},
		GovernmentID: hrgate.NationalID{Type: "nir", Value: "2900275123456 78"},
	}
}

func TestGroupCodecRoundTrip(t *testing.T) {
	in := fullEmployee()
	for _, g := range hrgate.FieldGroups() {
		var out hrgate.Employee
		if err := decodeGroup(encodeGroup(in, g), &out, g); err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		inF, n := groupFields(in, g)
		outF, _ := groupFields(&out, g)
		if n == 0 {
			t.Fatalf("%s has no fields", g)
		}
		for i := 0; i < n; i++ {
			if *inF[i] != *outF[i] {
				t.Errorf("%s field %d: %q != %q", g, i, *outF[i], *inF[i])
			}
		}
	}
	// Every field of the domain types is covered: a full employee survives
	// all groups, so adding a field without adding it here fails this test.
	var out hrgate.Employee
	for _, g := range hrgate.FieldGroups() {
		if err := decodeGroup(encodeGroup(in, g), &out, g); err != nil {
			t.Fatal(err)
		}
	}
	if out != *in {
		t.Fatalf("round trip lost data:\n got %+v\nwant %+v", out, *in)
	}
}

func TestGroupCodecRejectsCorruptData(t *testing.T) {
	good := encodeGroup(fullEmployee(), hrgate.GroupBanking)
	long := binary.AppendUvarint([]byte{groupCodecV1}, 1<<40)
	for name, raw := range map[string][]byte{
		"Empty":          {},
		"UnknownVersion": append([]byte{9}, good[1:]...),
		"Truncated":      good[:len(good)-1],
		"TrailingBytes":  append(append([]byte{}, good...), 'x'),
		"HugeLength":     long,
		"JSON":           []byte(`{"iban":"x"}`),
		"NonMinimalLen":  append([]byte{groupCodecV1, 0x80, 0x00}, good[2:]...),
	} {
		t.Run(name, func(t *testing.T) {
			var e hrgate.Employee
			if err := decodeGroup(raw, &e, hrgate.GroupBanking); err == nil {
				t.Fatal("corrupt group decoded")
			}
		})
	}
}

func FuzzDecodeGroup(f *testing.F) {
	f.Add(encodeGroup(fullEmployee(), hrgate.GroupContact))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var e hrgate.Employee
		if decodeGroup(raw, &e, hrgate.GroupContact) == nil {
			// What decodes must encode back to the same bytes.
			if got := encodeGroup(&e, hrgate.GroupContact); string(got) != string(raw) {
				t.Fatalf("re-encoding differs: %x vs %x", got, raw)
			}
		}
	})
}

// TestDecodeGroups checks the row decoder FindEmployees uses, which reads
// every group of a row out of one string: each group gets exactly its own
// fields, a NULL group stays zero, and a corrupt group anywhere in the row
// fails the row.
func TestDecodeGroups(t *testing.T) {
	in := fullEmployee()
	list := hrgate.FieldGroups()
	if len(list) != numGroups {
		t.Fatalf("numGroups = %d, but there are %d field groups", numGroups, len(list))
	}
	raws := func() []sql.RawBytes {
		out := make([]sql.RawBytes, len(list))
		for i, g := range list {
			out[i] = encodeGroup(in, g)
		}
		return out
	}

	t.Run("OK", func(t *testing.T) {
		var out hrgate.Employee
		if err := decodePlain(&out, list, raws()); err != nil {
			t.Fatal(err)
		}
		if out != *in {
			t.Fatalf("got %+v\nwant %+v", out, *in)
		}
	})
	t.Run("NullGroup", func(t *testing.T) {
		raw := raws()
		raw[hrgate.GroupContact] = nil
		var out hrgate.Employee
		if err := decodePlain(&out, list, raw); err != nil {
			t.Fatal(err)
		}
		want := *in
		want.Contact = hrgate.Contact{}
		if out != want {
			t.Fatalf("got %+v\nwant %+v", out, want)
		}
	})
	t.Run("Subset", func(t *testing.T) {
		sub := []hrgate.FieldGroup{hrgate.GroupIdentity, hrgate.GroupBanking}
		var out hrgate.Employee
		if err := decodePlain(&out, sub, []sql.RawBytes{encodeGroup(in, sub[0]), encodeGroup(in, sub[1])}); err != nil {
			t.Fatal(err)
		}
		if out.Identity != in.Identity || out.Banking != in.Banking || out.Compensation != (hrgate.Compensation{}) {
			t.Fatalf("got %+v", out)
		}
	})
	good := encodeGroup(in, hrgate.GroupBanking)
	for name, bad := range map[string][]byte{
		"UnknownVersion": append([]byte{9}, good[1:]...),
		"VersionOnly":    {groupCodecV1},
		"Truncated":      good[:len(good)-1],
		"TrailingBytes":  append(append([]byte{}, good...), 'x'),
	} {
		t.Run(name, func(t *testing.T) {
			raw := raws()
			raw[hrgate.GroupBanking] = bad
			var out hrgate.Employee
			if err := decodePlain(&out, list, raw); err == nil {
				t.Fatal("corrupt group decoded")
			}
		})
	}
}

// decodePlain is decodeGroups under the plain-text policy of a store opened
// with InsecurePlaintext.
func decodePlain(e *hrgate.Employee, list []hrgate.FieldGroup, raw []sql.RawBytes) error {
	enc, err := newEncryption(Options{InsecurePlaintext: true})
	if err != nil {
		return err
	}
	return decodeGroups(context.Background(), enc.decoder(), e, list, raw)
}
