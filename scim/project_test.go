package scim

import (
	"net/url"
	"strings"
	"testing"
)

// TestProjectBounded checks that attributes and excludedAttributes are
// bounded as a filter is: a list projects every user of its page with
// them, so an unbounded list would cost its length times the page.
func TestProjectBounded(t *testing.T) {
	doc := babs(t)
	long := strings.TrimSuffix(strings.Repeat("userName,", maxFilterLen/len("userName,")+1), ",")
	for _, param := range []string{"attributes", "excludedAttributes"} {
		if _, err := project(doc, url.Values{param: {long}}); err == nil {
			t.Errorf("%s of %d bytes accepted", param, len(long))
		} else if e := errorOf(err); e.Status != 400 {
			t.Errorf("%s of %d bytes: %+v", param, len(long), e)
		}
		if _, err := project(babs(t), url.Values{param: {"userName,name.givenName"}}); err != nil {
			t.Errorf("%s: %v", param, err)
		}
	}
}
