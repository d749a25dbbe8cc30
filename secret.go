package hrgate

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SecretKind names a kind of secret hrgate hands out.
type SecretKind string

// Secret kinds.
const (
	SecretAPIKey        SecretKind = "api_key"        // hrg_live_…, hrg_test_…
	SecretClientSecret  SecretKind = "client_secret"  // hrg_cs_…
	SecretAdminToken    SecretKind = "admin_token"    // hrg_admin_…
	SecretSourceToken   SecretKind = "source_token"   // hrg_scim_…
	SecretWebhookSecret SecretKind = "webhook_secret" // whsec_…
)

// SecretShape is how one kind of secret reads in text.
type SecretShape struct {
	Kind SecretKind
	// Words name the secret in a sentence: "an API key".
	Words string
	// Pattern matches strings shaped like the secret; it may match a
	// look-alike, which is as well kept out of a message.
	Pattern *regexp.Regexp
}

// secretShapes is the one list of the secrets hrgate hands out, so that
// a new kind added here is kept out of every message that would echo what
// a caller typed, not only out of those whose authors thought of it.
var secretShapes = []SecretShape{
	{SecretAPIKey, "an API key", APIKeyPattern},
	{SecretClientSecret, "an OAuth client's secret", ClientSecretPattern},
	{SecretAdminToken, "the admin token", AdminTokenPattern},
	{SecretSourceToken, "a SCIM source's token", SourceTokenPattern},
	{SecretWebhookSecret, "a webhook signing secret", WebhookSecretPattern},
}

// SecretShapes returns the shapes of every secret hrgate hands out.
func SecretShapes() []SecretShape {
	return append([]SecretShape(nil), secretShapes...)
}

// LooksLikeSecret returns the shape of an hrgate secret that s holds
// and true, or false when s holds none. What a caller typed where an id or
// a name belongs is checked with it before an error message quotes it: a
// pasted secret must not travel on into a response, a terminal or a log.
//
// A match holds its pattern's literal prefix ("hrg_cs_"), so a string
// without it is passed over without running the pattern: nearly every
// string it sees, such as every query parameter of every request.
func LooksLikeSecret(s string) (SecretShape, bool) {
	for _, sh := range secretShapes {
		if p, _ := sh.Pattern.LiteralPrefix(); strings.Contains(s, p) && sh.Pattern.MatchString(s) {
			return sh, true
		}
	}
	return SecretShape{}, false
}

// holdsSecretPrefix returns the shape of the secret whose prefix s
// holds, the longest such prefix when several do ("hrg_cs_" rather than
// "hrg_"), and true; false when s holds none. Unlike LooksLikeSecret, it
// finds a secret cut short, as when a paste missed its end.
func holdsSecretPrefix(s string) (SecretShape, bool) {
	var found SecretShape
	longest := 0
	for _, sh := range secretShapes {
		if p, _ := sh.Pattern.LiteralPrefix(); len(p) > longest && strings.Contains(s, p) {
			found, longest = sh, len(p)
		}
	}
	return found, longest > 0
}

// EchoMax is the most of a caller's input, in bytes, that an error
// message repeats.
const EchoMax = 64

// Echo returns what a caller typed, fit to repeat in an error message: a
// string holding something shaped like an hrgate secret, or only the
// prefix of one (a secret cut short), is replaced by the words naming
// that secret, and a long one is cut to EchoMax bytes on a character
// boundary, marked with "…". Every message that quotes input goes
// through it, so that a pasted secret never travels on into a response,
// a terminal or a log.
func Echo(s string) string {
	e, cut := echo(s)
	if cut {
		return e + "…"
	}
	return e
}

// EchoQuoted returns Echo(s) quoted in ASCII, as strconv.QuoteToASCII
// quotes, with the "…" of a cut after the closing quote: for names a
// sender chose, which may hold control characters, bidirectional
// overrides or invalid UTF-8 that must neither forge a log line nor
// disguise the name.
func EchoQuoted(s string) string {
	e, cut := echo(s)
	if cut {
		return strconv.QuoteToASCII(e) + "…"
	}
	return strconv.QuoteToASCII(e)
}

// Redact is Echo without the cut: s, or, when s holds something shaped
// like an hrgate secret or only the prefix of one, the words naming that
// secret. It is for a whole message of the program's own that may carry
// input somewhere inside, whose length is not the caller's to choose.
func Redact(s string) string {
	r, _ := redact(s)
	return r
}

// redact is Redact, reporting whether s held a secret.
func redact(s string) (string, bool) {
	sh, ok := LooksLikeSecret(s)
	if !ok {
		sh, ok = holdsSecretPrefix(s)
	}
	if ok {
		return "(" + sh.Words + ", not repeated)", true
	}
	return s, false
}

// echo returns what Echo repeats of s, without its mark of a cut, and
// whether it was cut.
func echo(s string) (string, bool) {
	if r, ok := redact(s); ok {
		return r, false
	}
	if len(s) <= EchoMax {
		return s, false
	}
	n := EchoMax
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}
