package main_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoSecretReachesAnyOutput plants known secrets — an API key, an OAuth
// client secret, an access token, the admin token, a key handed out by the
// admin API, wrong guesses at each, and the IBANs and national ids of the
// sandbox — drives requests with them, and searches every output the
// audit work adds or touches: the audit database's files, the process log
// at debug level, and both export formats and the search output.
func TestNoSecretReachesAnyOutput(t *testing.T) {
	dir, dd, mustRun := newDataDir(t)
	mustRun(t, "sandbox", "seed", "--companies", "1", "--employees", "10")
	mustRun(t, "consumers", "create", "hr", "--scopes", "employees:read:identity,banking,government_id companies:*")
	var k struct{ Key string }
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "create", "--consumer", "hr", "--test", "--output", "json")), &k); err != nil {
		t.Fatal(err)
	}
	var cl struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "clients", "create", "--consumer", "hr", "--output", "json")), &cl); err != nil || cl.ClientSecret == "" {
		t.Fatalf("client: %v", err)
	}

	var adm struct{ Token string }
	if err := json.Unmarshal([]byte(mustRun(t, "admin", "token", "--output", "json")), &adm); err != nil || adm.Token == "" {
		t.Fatalf("admin token: %v", err)
	}

	s := startServe(t, dd...)
	c := &http.Client{}
	secrets := map[string]string{"api key": k.Key, "client secret": cl.ClientSecret}
	wrong := func(s string) string {
		return s[:len(s)-3] + strings.Map(func(r rune) rune { return r ^ 1 }, s[len(s)-3:])
	}

	// Data read with the key: the restricted values are in the answer.
	status, _, body := call(t, c, "GET", s.url+"/v1/employees?limit=10", k.Key, nil, "")
	if status != 200 {
		t.Fatalf("employees: %d %s", status, body)
	}
	var page struct {
		Data []struct {
			ID          string
			BankAccount struct{ IBAN string }  `json:"bank_account"`
			NationalID  struct{ Value string } `json:"national_id"`
		}
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Data {
		if e.BankAccount.IBAN != "" {
			secrets["IBAN of "+e.ID] = e.BankAccount.IBAN
		}
		if e.NationalID.Value != "" {
			secrets["national id of "+e.ID] = e.NationalID.Value
		}
	}
	if len(secrets) < 6 {
		t.Fatalf("the sandbox answered too few restricted values: %v", secrets)
	}

	// A token, used; wrong guesses at every credential.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ClientID}, "client_secret": {cl.ClientSecret}}
	status, _, body = call(t, c, "POST", s.url+"/oauth2/token", "", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status != 200 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("token: %d %s", status, body)
	}
	secrets["access token"] = tok.AccessToken
	if status, _, _ := call(t, c, "GET", s.url+"/v1/employees/"+page.Data[0].ID, tok.AccessToken, nil, ""); status != 200 {
		t.Fatalf("read with the token: %d", status)
	}
	secrets["wrong key"], secrets["wrong token"] = wrong(k.Key), wrong(tok.AccessToken)
	secrets["wrong client secret"] = wrong(cl.ClientSecret)
	for _, bearer := range []string{secrets["wrong key"], secrets["wrong token"]} {
		if status, _, _ := call(t, c, "GET", s.url+"/v1/employees", bearer, nil, ""); status != 401 {
			t.Fatalf("a wrong credential answered %d", status)
		}
	}
	form.Set("client_secret", secrets["wrong client secret"])
	if status, _, _ := call(t, c, "POST", s.url+"/oauth2/token", "", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"); status != 401 {
		t.Fatalf("a wrong client secret answered %d", status)
	}
	if status, _, _ := call(t, c, "GET", s.url+"/v1/employees?api_key="+url.QueryEscape(k.Key), "", nil, ""); status != 400 {
		t.Fatalf("a key in the query answered %d", status)
	}

	// The admin API hands out a new key.
	secrets["admin token"] = adm.Token
	secrets["wrong admin token"] = wrong(secrets["admin token"])
	status, _, body = call(t, c, "POST", s.adminURL+"/admin/v1/keys", secrets["admin token"], strings.NewReader(`{"consumer":"hr","test":true}`), "application/json")
	var nk struct{ Key string }
	if status != 201 || json.Unmarshal(body, &nk) != nil || nk.Key == "" {
		t.Fatalf("admin key: %d %s", status, body)
	}
	secrets["key from the admin API"] = nk.Key
	if status, _, _ := call(t, c, "GET", s.adminURL+"/admin/v1/consumers", secrets["wrong admin token"], nil, ""); status != 401 {
		t.Fatalf("a wrong admin token answered %d", status)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	outputs := map[string][]byte{"process log": []byte(s.stderr.String())}
	files, err := filepath.Glob(filepath.Join(dir, "audit.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("audit database files: %v %v", files, err)
	}
	var dbBytes []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		outputs[filepath.Base(f)] = b
		dbBytes = append(dbBytes, b...)
	}
	// The files are searchable as they are: what the trail holds is there
	// in the clear.
	if !bytes.Contains(dbBytes, []byte(page.Data[0].ID)) {
		t.Fatal("the audit database files do not hold the record ids the trail recorded")
	}
	outputs["export jsonl"] = []byte(mustRun(t, "audit", "export", "--format", "jsonl"))
	outputs["export cef"] = []byte(mustRun(t, "audit", "export", "--format", "cef"))
	outputs["search"] = []byte(mustRun(t, "audit", "search", "--limit", "10000", "--output", "json"))
	if !bytes.Contains(outputs["export jsonl"], []byte(`"auth.failure"`)) || !bytes.Contains(outputs["export jsonl"], []byte(page.Data[0].ID)) {
		t.Fatal("the trail lacks the events the test means to search")
	}
	for what, secret := range secrets {
		for name, out := range outputs {
			if bytes.Contains(out, []byte(secret)) {
				t.Errorf("the %s appears in the %s", what, name)
			}
		}
	}
}
