package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/accounts"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// The secrets of the leak test: distinctive values, made only of characters that
// no encoding (JSON, URL, Prometheus label, log quoting) changes.
const (
	leakClientID        = "passerelle-leak-test"
	leakClientSecret    = "PISTEsecret-4f1d9a7c2b8e6d30"
	leakBadClientSecret = "PISTEwrongSecret-91c7e2a4f0b3"
	leakLogin           = "TECH_leak@cpro.fr"
	leakPassword        = "CPROpassword-7b3e9f21c4a8"
	leakLockedLogin     = "TECH_locked@cpro.fr"
	leakLockedPassword  = "CPROrealLocked-2d6f8a1e5c93"
	leakWrongPassword   = "CPROwrongPassword-5e8a2c7f1d"
	leakDeclarantSIRET  = "53755096400010"
	leakPASRAUPassword  = "PASRAUpw-c29e4b71f8"
	leakLockedSIRET     = "88000001300016"
	leakLockedPASRAU    = "PASRAUreal-83d1f5a6"
	leakWrongPASRAU     = "PASRAUwrong-6b0e2d94"
)

// tokenTap serves an emulator and keeps every token it issues and every credential
// header it receives.
type tokenTap struct {
	next   http.Handler
	mu     sync.Mutex
	seen   map[string]string // value -> what it is
	issued int
}

func (tt *tokenTap) add(value, what string) {
	value = strings.TrimSpace(value)
	if value == "" {
		return
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if strings.Contains(what, "issued") {
		tt.issued++
	}
	if _, ok := tt.seen[value]; !ok {
		tt.seen[value] = what
	}
}

// captured returns the values seen, and what each is.
func (tt *tokenTap) captured() map[string]string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	out := make(map[string]string, len(tt.seen))
	for k, v := range tt.seen {
		out[k] = v
	}
	return out
}

type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

func (tt *tokenTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a := r.Header.Get("Authorization"); a != "" {
		tt.add(a, "an Authorization header sent to "+r.URL.Path)
		for _, prefix := range []string{"Bearer ", "PASRAULogin jeton=", "Basic "} {
			if v, ok := strings.CutPrefix(a, prefix); ok {
				tt.add(v, "a credential sent in Authorization")
			}
		}
	}
	if a := r.Header.Get("cpro-account"); a != "" {
		tt.add(a, "a cpro-account header")
	}
	tw := &teeWriter{ResponseWriter: w}
	tt.next.ServeHTTP(tw, r)
	switch {
	case strings.HasSuffix(r.URL.Path, "/oauth/token"):
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(tw.body.Bytes(), &tok) == nil {
			tt.add(tok.AccessToken, "a PISTE access token issued by the Chorus Pro emulator")
		}
	case strings.HasPrefix(r.URL.Path, "/authentifier/"):
		if tw.body.Len() > 0 && tw.body.Len() < 200 {
			tt.add(tw.body.String(), "a PASRAU token issued by the PASRAU emulator")
		}
	}
}

// serveTapped serves h behind a tokenTap on a loopback port until the test ends.
func serveTapped(t *testing.T, h http.Handler) (string, *tokenTap) {
	t.Helper()
	tap := &tokenTap{next: h, seen: map[string]string{}}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: tap, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String(), tap
}

// leakAccounts writes the accounts file of the leak test: acme (right credentials),
// locked (wrong Chorus Pro and PASRAU passwords) and badapp (wrong PISTE client
// secret). Secrets come from the environment and from a file, as in production.
func leakAccounts(t *testing.T, cpURL, prURL string) (*accounts.File, func(string) string) {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "locked-pasrau-password")
	if err := os.WriteFile(secretFile, []byte(leakWrongPASRAU+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"ACME_PISTE_SECRET": leakClientSecret, "ACME_CPRO_PASSWORD": leakPassword, "ACME_PASRAU_PASSWORD": leakPASRAUPassword,
		"LOCKED_CPRO_PASSWORD": leakWrongPassword, "BADAPP_PISTE_SECRET": leakBadClientSecret,
	}
	host := strings.TrimPrefix(prURL, "http://")
	choruspro := func(secret, login, password string) map[string]any {
		return map[string]any{
			"environment": "qualification", "auth": "piste", "baseUrl": cpURL + "/cpro", "tokenUrl": cpURL + "/api/oauth/token",
			"clientId": leakClientID, "clientSecret": secret, "login": login, "password": password,
			"supplierId": chorusprotest.SeedIDFournisseur, "userId": chorusprotest.SeedIDUtilisateurCourant, "allowHttp": true,
		}
	}
	pasrauPart := func(siret, nom, prenom, password string) map[string]any {
		return map[string]any{
			"environment": "test", "siret": siret, "nom": nom, "prenom": prenom, "password": password,
			"authUrl": prURL + "/authentifier/1.0/", "depositUrl": prURL + "/deposer-pasrau/1.0/",
			"listFluxUrl": prURL + "/lister-retours-flux/1.0/", "listDeclarantUrl": prURL + "/lister-retours-declarant/1.0/",
			"downloadHosts": []string{host}, "plainHttpDownloadHosts": []string{host},
		}
	}
	doc := map[string]any{"accounts": map[string]any{
		"acme": map[string]any{
			"choruspro": choruspro("env:ACME_PISTE_SECRET", leakLogin, "env:ACME_CPRO_PASSWORD"),
			"pasrau":    pasrauPart(leakDeclarantSIRET, "DEMO", "Passerelle", "env:ACME_PASRAU_PASSWORD"),
		},
		"locked": map[string]any{
			"choruspro": choruspro("env:ACME_PISTE_SECRET", leakLockedLogin, "env:LOCKED_CPRO_PASSWORD"),
			"pasrau":    pasrauPart(leakLockedSIRET, "VERROU", "Compte", "file:"+secretFile),
		},
		"badapp": map[string]any{
			"choruspro": choruspro("env:BADAPP_PISTE_SECRET", leakLogin, "env:ACME_CPRO_PASSWORD"),
		},
	}}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	f, err := accounts.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return f, func(k string) string { return env[k] }
}

// TestSecretsNeverLeak runs invoices in every mode and declarations through token
// expiry, 429 and 503, accounts whose credentials are refused and submissions that
// end in the dead-letter stream, with known secrets, and searches everything
// passerelle produced for them: logs at debug level, spans, every NATS message
// (status and return events, dead letters, ledger, follow-ups, documents), the
// /metrics and /readyz answers and the errors its clients return.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	h := devstacktest.New(t, devstack.Config{})
	ctx := context.Background()

	// Every message that passes through the server, from now on.
	spy, err := h.Stack.Connect("leak spy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(spy.Close)
	var wireMu sync.Mutex
	var wire []*nats.Msg
	sub, err := spy.Subscribe(">", func(m *nats.Msg) {
		wireMu.Lock()
		defer wireMu.Unlock()
		wire = append(wire, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}

	// The emulators, with our secrets, and faults.
	cp, err := chorusprotest.New(chorusprotest.Config{
		Step:      100 * time.Millisecond,
		PisteApps: []chorusprotest.PisteApp{{ClientID: leakClientID, ClientSecret: leakClientSecret}},
		TechnicalAccounts: []chorusprotest.TechnicalAccount{
			{Login: leakLogin, Password: leakPassword, IDUtilisateur: chorusprotest.SeedIDUtilisateurCourant, IDFournisseurs: []int64{chorusprotest.SeedIDFournisseur}},
			{Login: leakLockedLogin, Password: leakLockedPassword, IDUtilisateur: chorusprotest.SeedIDUtilisateurCourant + 1, IDFournisseurs: []int64{chorusprotest.SeedIDFournisseur}},
		},
		Faults: chorusprotest.Faults{Seed: 17, UnavailableProbability: 0.2, RateLimitProbability: 0.1, RetryAfterSeconds: 1, TokenExpiryEvery: 4,
			Operations: []string{"soumettre", "deposerPDF", "deposerFlux", "consulterCRDetaille", "consulterHistorique", "rechercherStructures", "rechercherFacturesFournisseur"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := pasrautest.New(pasrautest.Config{
		Step: 100 * time.Millisecond, MinInterval: time.Second,
		Declarants: []pasrautest.Declarant{
			{SIRET: leakDeclarantSIRET, Nom: "DEMO", Prenom: "Passerelle", MotDePasse: leakPASRAUPassword},
			{SIRET: leakLockedSIRET, Nom: "VERROU", Prenom: "Compte", MotDePasse: leakLockedPASRAU},
		},
		Faults: pasrautest.Faults{Seed: 23, UnavailableProbability: 0.15, RateLimitProbability: 0.1, RetryAfterSeconds: 1, TokenExpiresAfterCalls: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	cpURL, cpTap := serveTapped(t, cp)
	prURL, prTap := serveTapped(t, pr)

	// Telemetry that keeps everything: debug logs and every span.
	var logs devstacktest.SyncBuffer
	spans := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(ctx, telemetry.Config{LogOutput: &logs, LogLevel: "debug", LogFormat: "json", SpanExporter: spans, SyncSpans: true, ServiceName: "passerelle"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	file, getenv := leakAccounts(t, cpURL, prURL)
	buildOpts := accounts.Options{Getenv: getenv, Telemetry: tel, PASRAUSoftware: pasrau.UserAgent{Software: "passerelle", Version: "test", Editor: "passerelle"}, PASRAUAttemptTimeout: 10 * time.Second}
	reg, err := accounts.Build(file, buildOpts)
	if err != nil {
		t.Fatal(err)
	}
	h.Config.HTTPListen = "127.0.0.1:0"
	h.Config.Policy.MaxDeliveries = 4
	h.Config.Policy.BackoffBase = 200 * time.Millisecond
	h.Config.Invoice.AuthRetryDelay = 300 * time.Millisecond
	h.Config.Declaration.AuthRetryDelay = 300 * time.Millisecond
	svc, crashed := runService(t, h, tel, reg)

	// The submissions.
	var ids []string
	invoice := func(account, number string, mode int) {
		t.Helper()
		data := invoiceExample(t, number)
		data.Account = account
		switch mode {
		case 1:
			data = pdfExample(t, number)
			data.Account = account
		case 2:
			data = events.InvoiceSubmit{Account: account, Mode: events.ModeFlow, FlowSyntax: "IN_DP_E1_CII_16B", Invoice: events.Invoice{Number: number},
				Document: &events.Document{FileName: number + ".xml", Content: base64.StdEncoding.EncodeToString(ciiFlow(number))}}
		}
		e, err := events.NewInvoiceSubmit("", data)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, h.Publish(e))
	}
	text, err := os.ReadFile("../pasrau/testdata/valid-declaration.txt")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile("../pasrau/testdata/guide-sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	declaration := func(account, text string) {
		t.Helper()
		e, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{Account: account, File: events.DeclarationFile{Encoding: events.EncodingUTF8, Text: text}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, h.Publish(e))
	}
	month := func(m int) string {
		return strings.Replace(string(text), "S20.G00.05.005,'01112026'", fmt.Sprintf("S20.G00.05.005,'01%02d2033'", m), 1)
	}
	for i := range 2 {
		invoice("acme", fmt.Sprintf("LEAK-S-%d", i), 0)
		invoice("acme", fmt.Sprintf("LEAK-P-%d", i), 1)
		invoice("acme", fmt.Sprintf("LEAK-F-%d", i), 2)
		declaration("acme", month(1+i))
	}
	invoice("locked", "LEAK-LOCKED", 0)
	invoice("badapp", "LEAK-BADAPP", 0)
	declaration("locked", month(6))
	declaration("acme", string(guide))
	bad, err := events.NewInvoiceSubmit("", events.InvoiceSubmit{Account: "acme", Mode: events.ModeStructured, Invoice: events.Invoice{Number: "LEAK-BAD"}})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, h.Publish(bad))
	h.WaitFinal(90*time.Second, ids...)
	h.WaitFor(30*time.Second, "a declaration.return and a failed submission", func() bool {
		failed := 0
		for _, id := range ids {
			if s, _ := h.Final(id); s.State == events.StateFailed {
				failed++
			}
		}
		return len(h.Events(events.TypeDeclarationReturn)) > 0 && failed >= 3
	})
	if len(h.DeadLetters()) == 0 {
		t.Fatal("nothing was dead-lettered: the failing paths were not exercised")
	}
	finals := map[string]int{}
	for _, id := range ids {
		s, _ := h.Final(id)
		finals[s.State]++
	}
	t.Logf("final states %v; %d dead letters; %d declaration returns", finals, len(h.DeadLetters()), len(h.Events(events.TypeDeclarationReturn)))
	for _, want := range []struct {
		what string
		hit  bool
	}{
		{"a Chorus Pro 401 (wrong technical password)", hasChorusProStatus(cp.Requests(0), leakLockedLogin, http.StatusUnauthorized)},
		{"a PISTE token refused (wrong client secret)", hasChorusProStatus(cp.Requests(0), "", http.StatusBadRequest)},
		{"an expired PISTE token", hasFault(cp.Requests(0), "expire-token")},
		{"a Chorus Pro 503", hasFault(cp.Requests(0), "503")},
		{"a Chorus Pro 429", hasFault(cp.Requests(0), "429")},
		{"an expired PASRAU token", hasPASRAUFault(pr.Requests(0), pasrautest.FaultTokenExpired)},
		{"a PASRAU 503 or 429", hasPASRAUFault(pr.Requests(0), pasrautest.FaultUnavailable) || hasPASRAUFault(pr.Requests(0), pasrautest.FaultRateLimit)},
		{"a PASRAU 401 (wrong password)", hasPASRAUStatus(pr.Requests(0), leakLockedSIRET, http.StatusUnauthorized)},
	} {
		if !want.hit {
			t.Errorf("the run did not exercise %s: the search would prove less", want.what)
		}
	}

	// The secrets, and what each is.
	secrets := map[string]string{
		leakClientSecret:    "the PISTE client secret",
		leakBadClientSecret: "the wrong PISTE client secret configured for badapp",
		leakPassword:        "the technical account password",
		leakLockedPassword:  "the locked technical account's real password",
		leakWrongPassword:   "the wrong technical password configured for locked",
		leakPASRAUPassword:  "the PASRAU declarant password",
		leakLockedPASRAU:    "the locked declarant's real password",
		leakWrongPASRAU:     "the wrong PASRAU password configured for locked",
		base64.StdEncoding.EncodeToString([]byte(leakLogin + ":" + leakPassword)):             "the cpro-account value of acme",
		base64.StdEncoding.EncodeToString([]byte(leakLockedLogin + ":" + leakWrongPassword)):  "the cpro-account value of locked",
		base64.StdEncoding.EncodeToString([]byte(leakLockedLogin + ":" + leakLockedPassword)): "the real cpro-account value of locked",
	}
	tokens := 0
	for _, tap := range []*tokenTap{cpTap, prTap} {
		for v, what := range tap.captured() {
			secrets[v] = what
		}
		tap.mu.Lock()
		tokens += tap.issued
		tap.mu.Unlock()
	}
	t.Logf("%d tokens issued by the emulators, %d distinct secrets and credentials to look for", tokens, len(secrets))
	if tokens < 4 {
		t.Errorf("%d tokens captured from the emulators, want several (token expiry renews them)", tokens)
	}

	// Direct client errors with refused credentials, in every form.
	var errs []string
	direct, err := accounts.Build(file, accounts.Options{Getenv: getenv, PASRAUSoftware: buildOpts.PASRAUSoftware, PASRAUAttemptTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"locked", "badapp", "acme"} {
		acct, _ := direct.ChorusPro(name)
		_, err := acct.Client.RechercherStructures(ctx, choruspro.RechercherStructuresRequest{Structure: choruspro.CritereStructure{IdentifiantStructure: "11000003100010", TypeIdentifiantStructure: "SIRET"}})
		errs = append(errs, errorForms(err)...)
	}
	if acct, ok := direct.PASRAU("locked"); ok {
		for range 2 { // refused, then refused without a call
			_, err := acct.Client.Deposit(ctx, []byte("S10.G00.00.001,'x'\n"))
			errs = append(errs, errorForms(err)...)
		}
	}
	tooLong, _ := accounts.Parse([]byte(`{"accounts":{"x":{"pasrau":{"environment":"test","siret":"53755096400010","nom":"N","prenom":"P","password":"` + leakPASRAUPassword + strings.Repeat("9", 30) + `"}}}}`))
	if tooLong != nil {
		_, err := accounts.Build(tooLong, accounts.Options{})
		errs = append(errs, errorForms(err)...)
	}
	if len(errs) == 0 {
		t.Error("no client error was produced")
	}

	// Everything passerelle produced.
	sources := map[string][]byte{"the log output": []byte(logs.String())}
	for i, s := range spans.GetSpans() {
		sources[fmt.Sprintf("span %d %q", i, s.Name)] = spanText(s)
	}
	code, metrics := get(t, "http://"+svc.HTTPAddr+"/metrics")
	if code != http.StatusOK {
		t.Errorf("/metrics = %d", code)
	}
	sources["/metrics"] = []byte(metrics)
	_, ready := get(t, "http://"+svc.HTTPAddr+"/readyz")
	sources["/readyz"] = []byte(ready)
	for i, e := range errs {
		sources[fmt.Sprintf("client error %d", i)] = []byte(e)
	}
	streams := 0
	names := h.JS.StreamNames(ctx)
	for name := range names.Name() {
		streams++
		for seq, m := range streamMessages(t, h.JS, name) {
			sources[fmt.Sprintf("stream %s message %d (%s)", name, seq, m.Subject)] = msgText(m.Subject, m.Header, m.Data)
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	if streams < 7 {
		t.Errorf("%d streams read, want the intake, events, follow-ups and dead-letter streams, the ledger and the documents", streams)
	}
	wireMu.Lock()
	for i, m := range wire {
		sources[fmt.Sprintf("NATS message %d on %s", i, m.Subject)] = msgText(m.Subject, m.Header, m.Data)
	}
	onWire := len(wire)
	wireMu.Unlock()

	// The search finds what it looks for: a cpro-account header and a token in a log line.
	for secret := range secrets {
		probe := msgText("probe", nats.Header{"cpro-account": {secret}}, []byte(`{"msg":"`+secret[:min(len(secret), 14)]+`"}`))
		if !leaked(probe, secret) {
			t.Fatalf("the search does not find %q in %q", secret, probe)
		}
	}
	leaks := 0
	for where, text := range sources {
		for secret, what := range secrets {
			if form := leakedForm(text, secret); form != "" {
				leaks++
				if leaks <= 40 {
					t.Errorf("%s holds %s: ...%s...", where, what, excerpt(text, form))
				}
			}
		}
		for _, re := range credentialPatterns {
			if loc := re.FindIndex(text); loc != nil {
				leaks++
				if leaks <= 40 {
					t.Errorf("%s holds a credential-looking value: %q", where, text[loc[0]:min(loc[1], loc[0]+120)])
				}
			}
		}
	}
	if leaks > 40 {
		t.Errorf("... %d leaks in all", leaks)
	}
	t.Logf("searched %d outputs (%d bytes of logs, %d spans, %d NATS messages seen on the wire) for %d secrets and tokens", len(sources), len(logs.String()), len(spans.GetSpans()), onWire, len(secrets))

	select {
	case err := <-crashed:
		t.Errorf("the service stopped by itself: %v", err)
	default:
	}
}

// credentialPatterns match credentials in the clear, whatever their value.
var credentialPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)bearer [A-Za-z0-9._~+/-]{16,}`),
	regexp.MustCompile(`(?i)jeton=[A-Za-z0-9+/]{16,}`),
	regexp.MustCompile(`(?i)"?cpro-account"?\s*[:=]\s*"?\[?"?[A-Za-z0-9+/]{16,}`),
	regexp.MustCompile(`(?i)client_secret=[^&\s"]{4,}`),
	regexp.MustCompile(`(?i)<motdepasse>[^<]+<`),
}

// secretForms returns the forms a secret may take in an output: as is, URL-encoded,
// and its beginning, middle and end (a truncated print is a leak too).
func secretForms(s string) []string {
	forms := []string{s}
	if q := url.QueryEscape(s); q != s {
		forms = append(forms, q)
	}
	if len(s) >= 20 {
		forms = append(forms, s[:12], s[len(s)/2-6:len(s)/2+6], s[len(s)-12:])
	}
	return forms
}

// leakedForm returns the form of secret found in text, or "".
func leakedForm(text []byte, secret string) string {
	for _, form := range secretForms(secret) {
		if bytes.Contains(text, []byte(form)) {
			return form
		}
	}
	return ""
}

func leaked(text []byte, secret string) bool { return leakedForm(text, secret) != "" }

func excerpt(text []byte, form string) string {
	i := bytes.Index(text, []byte(form))
	from, to := max(0, i-60), min(len(text), i+len(form)+60)
	return strings.ReplaceAll(string(text[from:to]), "\n", " ")
}

func errorForms(err error) []string {
	if err == nil {
		return nil
	}
	return []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
}

// spanText renders everything a span carries.
func spanText(s tracetest.SpanStub) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s status=%s %q\n", s.Name, s.Status.Code, s.Status.Description)
	attrs := func(kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			fmt.Fprintf(&b, "  %s=%s\n", kv.Key, kv.Value.String())
		}
	}
	attrs(s.Attributes)
	for _, e := range s.Events {
		fmt.Fprintf(&b, " event %s\n", e.Name)
		attrs(e.Attributes)
	}
	for _, l := range s.Links {
		attrs(l.Attributes)
	}
	if s.Resource != nil {
		attrs(s.Resource.Attributes())
	}
	return b.Bytes()
}

func msgText(subject string, h nats.Header, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString(subject + "\n")
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.Write(data)
	return b.Bytes()
}

// streamMessages returns every message a stream holds, by sequence.
func streamMessages(t *testing.T, js jetstream.JetStream, name string) map[uint64]*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]*jetstream.RawStreamMsg{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if m, err := s.GetMsg(ctx, seq); err == nil {
			out[seq] = m
		}
	}
	return out
}

func hasChorusProStatus(log []chorusprotest.RequestRecord, login string, status int) bool {
	for _, r := range log {
		if r.Login == login && r.Status == status {
			return true
		}
	}
	return false
}

func hasFault(log []chorusprotest.RequestRecord, fault string) bool {
	for _, r := range log {
		if r.Fault == fault {
			return true
		}
	}
	return false
}

func hasPASRAUFault(log []pasrautest.Request, fault string) bool {
	for _, r := range log {
		if r.Fault == fault {
			return true
		}
	}
	return false
}

func hasPASRAUStatus(log []pasrautest.Request, siret string, status int) bool {
	for _, r := range log {
		if r.SIRET == siret && r.Status == status {
			return true
		}
	}
	return false
}

// pdfExample returns the schema's pdf-mode invoice.submit example with another number.
func pdfExample(t *testing.T, number string) events.InvoiceSubmit {
	t.Helper()
	exs, err := schemas.Examples(events.TypeInvoiceSubmit)
	if err != nil {
		t.Fatal(err)
	}
	var data events.InvoiceSubmit
	if err := json.Unmarshal(exs[1], &data); err != nil {
		t.Fatal(err)
	}
	data.Invoice.Number = number
	data.Document.FileName = number + ".pdf"
	return data
}

// ciiFlow is a CII flow file of one invoice to the recipient without rules.
func ciiFlow(number string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100">
<rsm:ExchangedDocument><ram:ID>%s</ram:ID><ram:TypeCode>380</ram:TypeCode></rsm:ExchangedDocument>
<rsm:SupplyChainTradeTransaction><ram:ApplicableHeaderTradeAgreement><ram:BuyerTradeParty><ram:SpecifiedLegalOrganization><ram:ID>%s</ram:ID></ram:SpecifiedLegalOrganization></ram:BuyerTradeParty></ram:ApplicableHeaderTradeAgreement>
<ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode><ram:SpecifiedTradeSettlementHeaderMonetarySummation>
<ram:TaxBasisTotalAmount>100.00</ram:TaxBasisTotalAmount><ram:TaxTotalAmount>20.00</ram:TaxTotalAmount><ram:GrandTotalAmount>120.00</ram:GrandTotalAmount>
</ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>`, number, chorusprotest.SeedSIRETNoRule)
}

// TestNoInsecureSkipVerify asserts that no non-test Go file of the repository
// mentions InsecureSkipVerify: TLS verification is never turned off.
func TestNoInsecureSkipVerify(t *testing.T) {
	t.Parallel()
	root := "../.."
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "InsecureSkipVerify") {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d mentions InsecureSkipVerify: %s", filepath.ToSlash(rel), i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d Go files found under the repository root: the walk missed it", files)
	}
}
