package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/webhooks"
)

// TestSSRFRegistrationRefused: without webhooks.allowed_networks an
// endpoint whose URL names a loopback, private, link-local or mapped
// address is refused when it is registered; nothing is created.
func TestSSRFRegistrationRefused(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		strict := webhooks.New(e.db)
		for _, u := range []string{"https://127.0.0.1/h", "https://10.0.0.1/h", "https://[::1]/h",
			"https://169.254.169.254/latest/meta-data", "https://[::ffff:10.0.0.1]/h", "https://0.0.0.0/h"} {
			_, _, err := strict.Create(ctx, webhooks.EndpointRequest{Consumer: "payroll", URL: u, EventTypes: []string{hrgate.ChangeEmployeeCreated}})
			if hrgate.ErrorCode(err) != hrgate.EINVALID || !strings.Contains(hrgate.ErrorMessage(err), "allowed_networks") {
				t.Errorf("%s: %v, want EINVALID naming webhooks.allowed_networks", u, err)
			}
		}
		if eps, err := strict.Endpoints(ctx, ""); err != nil || len(eps) != 0 {
			t.Errorf("endpoints after refusals: %v %v", eps, err)
		}
	})
}

// TestSSRFDeliveryGuard: what registration cannot see is refused when the
// worker connects. A host name that resolves to 127.0.0.1 (localhost) is
// accepted at registration, then never dialled by a worker whose allowed
// networks do not list the loopback: the attempt fails with the class
// blocked_address and the receiver sees nothing. (Redirects, DNS answers
// of every private kind and mapped forms are covered, against the same
// client, in transport_test.go.)
func TestSSRFDeliveryGuard(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		var hits atomic.Int64
		target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
		defer target.Close()
		byName := strings.Replace(target.URL, "127.0.0.1", "localhost", 1) + "/h"
		ep, _ := e.endpoint(t, "payroll", byName, false)

		w := e.worker(t, webhooks.WorkerConfig{Client: webhooks.NewClient(webhooks.TransportConfig{})})
		e.importCSV(t, "remote_id,first_name,last_name\nr1,Ada,Lovelace\n")
		runOnce(t, w)
		if n := hits.Load(); n != 0 {
			t.Fatalf("the guard let %d requests reach a host name resolving to the loopback", n)
		}
		ds, err := e.svc.Deliveries(ctx, hrgate.DeliveryFilter{EndpointID: ep.ID})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries = %v, %v", ds, err)
		}
		_, atts, err := e.svc.Delivery(ctx, ds[0].ID)
		if err != nil || len(atts) != 1 || atts[0].ErrorClass != webhooks.ErrClassBlocked || ds[0].LastError != webhooks.ErrClassBlocked {
			t.Fatalf("attempts = %+v, %v; want one of class %s", atts, err, webhooks.ErrClassBlocked)
		}
	})
}
