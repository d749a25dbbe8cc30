package sources_test

import (
	"context"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sources"
)

// TestApply_Manager checks manager_id: an employee of the same source,
// checked inside the writing transaction, never the employee itself, and
// not checked again while it stays as stored.
func TestApply_Manager(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		other, _, err := e.svc.Create(ctx, "other", "acme", hrgate.SourceWebhook)
		if err != nil {
			t.Fatal(err)
		}
		person := func(remote, manager string) sources.Record {
			return sources.Record{RemoteID: remote, Values: map[string]string{"first_name": "A", "last_name": remote, "manager_id": manager}}
		}
		_, out, err := e.svc.Apply(ctx, src, "webhook", []sources.Record{person("boss", "")})
		if err != nil {
			t.Fatal(err)
		}
		boss := out[0].Employee.ID
		_, out, err = e.svc.Apply(ctx, other, "webhook", []sources.Record{person("stranger", "")})
		if err != nil {
			t.Fatal(err)
		}
		stranger := out[0].Employee.ID

		_, out, err = e.svc.Apply(ctx, src, "webhook", []sources.Record{person("report", boss)})
		if err != nil || out[0].Employee.Employment.ManagerID != boss {
			t.Fatalf("a manager of the same source: %v %+v", err, out)
		}
		report := out[0].Employee.ID
		for name, rec := range map[string]sources.Record{
			"OtherSource": person("report2", stranger),
			"NoSuch":      person("report3", "emp_0000000000000000000000000a"),
			"Self":        person("report", report),
			"NotAnID":     person("report4", "boss"),
		} {
			t.Run(name, func(t *testing.T) {
				_, out, err := e.svc.Apply(ctx, src, "webhook", []sources.Record{rec})
				if err == nil {
					t.Fatal("accepted")
				}
				if len(out) != 1 || len(out[0].Problems) == 0 || out[0].Problems[0].Column != "manager_id" {
					t.Errorf("problems %+v", out)
				}
			})
		}
	})
}
