package hrgate_test

import (
	"crypto/rand"
	"testing"

	"github.com/hrgate/hrgate"
)

func TestNamesCannotBeIDs(t *testing.T) {
	conID, err := hrgate.NewID(hrgate.PrefixConsumer, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	comID, err := hrgate.NewID(hrgate.PrefixCompany, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"payroll": true, "pay_roll-2": true, conID: false, "Payroll": false, "": false} {
		if got := hrgate.ValidConsumerName(name); got != want {
			t.Errorf("ValidConsumerName(%q) = %v, want %v", name, got, want)
		}
	}
	for slug, want := range map[string]bool{"acme": true, "acme-gmbh-2": true, comID: false, "-acme": false, "Acme": false, "acme_x": false, "": false} {
		if got := hrgate.ValidSlug(slug); got != want {
			t.Errorf("ValidSlug(%q) = %v, want %v", slug, got, want)
		}
	}
}
