//go:build unix

package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
)

// The emulators' seeded credentials, given to the workers as environment
// variables that the accounts file references.
const (
	envPisteSecret    = "CHAOS_PISTE_CLIENT_SECRET"
	envChorusPassword = "CHAOS_CHORUSPRO_PASSWORD"
	envPASRAUPassword = "CHAOS_PASRAU_PASSWORD"
	pasrauSIRET       = "53755096400010"
	pasrauPassword    = "demo-pasrau"
)

// accountName returns the name of the i-th account (from 0).
func accountName(i int) string { return fmt.Sprintf("acct%d", i+1) }

// writeAccounts writes an accounts file declaring n accounts, all acting with the
// emulators' seeded credentials, and returns its path.
func writeAccounts(t testing.TB, dir string, emu *emulators, n int) string {
	t.Helper()
	direct := func(_, upstream string) string {
		if upstream == upPASRAU {
			return "http://" + emu.pasAddr
		}
		return "http://" + emu.chorusAddr
	}
	return writeAccountsVia(t, filepath.Join(dir, "accounts.json"), emu, n, direct)
}

// writeAccountsVia writes to path an accounts file declaring n accounts whose
// calls to an upstream (upChorusPro or upPASRAU) go to base(account, upstream):
// the emulator itself, or the tap. PASRAU's download links lead to the emulator.
func writeAccountsVia(t testing.TB, path string, emu *emulators, n int, base func(account, upstream string) string) string {
	t.Helper()
	type obj = map[string]any
	accounts := obj{}
	for i := range n {
		cpro, pas := base(accountName(i), upChorusPro), base(accountName(i), upPASRAU)
		accounts[accountName(i)] = obj{
			"choruspro": obj{
				"environment":  "qualification",
				"auth":         "piste",
				"baseUrl":      cpro + "/cpro",
				"tokenUrl":     cpro + "/api/oauth/token",
				"allowHttp":    true,
				"clientId":     chorusprotest.SeedClientID,
				"clientSecret": "env:" + envPisteSecret,
				"login":        chorusprotest.SeedLogin,
				"password":     "env:" + envChorusPassword,
				"supplierId":   chorusprotest.SeedIDFournisseur,
				"userId":       chorusprotest.SeedIDUtilisateurCourant,
			},
			"pasrau": obj{
				"environment":            "test",
				"siret":                  pasrauSIRET,
				"nom":                    "DEMO",
				"prenom":                 "Passerelle",
				"password":               "env:" + envPASRAUPassword,
				"authUrl":                pas + "/authentifier/1.0/",
				"depositUrl":             pas + "/deposer-pasrau/1.0/",
				"listFluxUrl":            pas + "/lister-retours-flux/1.0/",
				"listDeclarantUrl":       pas + "/lister-retours-declarant/1.0/",
				"downloadHosts":          []string{emu.pasAddr},
				"plainHttpDownloadHosts": []string{emu.pasAddr},
			},
		}
	}
	b, err := json.MarshalIndent(obj{"accounts": accounts}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ackWait is the workers' PASSERELLE_ACK_WAIT: how long a message a worker
// holds (an account's poll, say) waits for it before it goes to another.
const ackWait = 10 * time.Second

// workerEnv is every worker's environment but its HTTP address: short poll
// intervals and ack waits, so that a scenario ends in minutes.
func workerEnv(sc scenario, natsURL, accountsFile string) []string {
	replicas := "1"
	if sc.cluster {
		replicas = "3"
	}
	settings := map[string]string{
		"NATS_URL":                              natsURL,
		"PASSERELLE_ACCOUNTS_FILE":              accountsFile,
		"PASSERELLE_REPLICAS":                   replicas,
		"PASSERELLE_LOG_FORMAT":                 "json",
		"PASSERELLE_LOG_LEVEL":                  envString("CHAOS_LOG_LEVEL", "info"),
		"PASSERELLE_ACK_WAIT":                   ackWait.String(),
		"PASSERELLE_CALL_BUDGET":                "4s",
		"PASSERELLE_SHUTDOWN_GRACE":             sc.grace.String(),
		"PASSERELLE_CHORUSPRO_FLOW_POLL":        "1s",
		"PASSERELLE_CHORUSPRO_INVOICE_POLL_MIN": "1s",
		"PASSERELLE_CHORUSPRO_INVOICE_POLL_MAX": "2s",
		"PASSERELLE_CHORUSPRO_RECONCILE_WINDOW": "3m",
		"PASSERELLE_PASRAU_FLUX_POLL":           "1s",
		"PASSERELLE_PASRAU_ACCOUNT_POLL":        "1s",
		"PASSERELLE_PASRAU_POLL_LAG":            "0s",
		"PASSERELLE_PASRAU_POLL_LOOKBACK":       "10m",
		"PASSERELLE_PASRAU_DEPOSIT_TIMEOUT":     "10s",
		"PASSERELLE_PASRAU_RECONCILE_WINDOW":    "5m",
		envPisteSecret:                          chorusprotest.SeedClientSecret,
		envChorusPassword:                       chorusprotest.SeedPassword,
		envPASRAUPassword:                       pasrauPassword,
	}
	if c := os.Getenv("CHAOS_CONCURRENCY"); c != "" {
		settings["PASSERELLE_CONCURRENCY"] = c
	}
	env := baseEnv()
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	return env
}

// fleet starts and stops the `passerelle run` workers of a scenario.
type fleet struct {
	bin    string
	logDir string
	env    []string
	ports  *ports
	// perWorker, when set, returns environment settings of the n-th worker
	// (from 1), which win over env.
	perWorker func(t testing.TB, n int) []string
	// workers are every worker started, in order.
	workers []*worker
	// startFailures are the workers that exited before they were ready.
	startFailures []string
}

// worker is one `passerelle run` process.
type worker struct {
	*proc
	n    int
	addr string // of /healthz, /readyz and /metrics
}

// start starts a worker and waits until it is ready. A worker that exits
// before it is ready (it could not reach NATS or set its streams up, say) is
// started again a second later, as an orchestrator would, for two minutes at
// most; each such exit is recorded in startFailures.
func (f *fleet) start(t testing.TB) *worker {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		w, ready := f.startOnce(t, deadline)
		if ready {
			return w
		}
		f.startFailures = append(f.startFailures, fmt.Sprintf("worker %d exited at start (%v): %s", w.n, w.exitErr, strings.TrimSpace(w.tail(3))))
		if time.Now().After(deadline) {
			t.Fatalf("no worker could start in 2m:\n%s", strings.Join(f.startFailures, "\n"))
		}
		time.Sleep(time.Second)
	}
}

// startOnce starts a worker and waits until it is ready (true) or exits (false).
func (f *fleet) startOnce(t testing.TB, deadline time.Time) (*worker, bool) {
	t.Helper()
	n := len(f.workers) + 1
	addr := fmt.Sprintf("127.0.0.1:%d", f.ports.next(t))
	env := append(append([]string(nil), f.env...), "PASSERELLE_HTTP_LISTEN="+addr)
	if f.perWorker != nil {
		// exec.Cmd keeps the last value of a variable set twice.
		env = append(env, f.perWorker(t, n)...)
	}
	w := &worker{n: n, addr: addr}
	w.proc = startProc(t, fmt.Sprintf("worker %d", n), filepath.Join(f.logDir, fmt.Sprintf("worker-%02d.log", n)), env, f.bin, "run")
	f.workers = append(f.workers, w)
	for {
		if !w.alive() {
			return w, false
		}
		status, body := httpGet("http://" + addr + "/readyz")
		if status == http.StatusOK {
			return w, true
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d not ready after 2m: /readyz answers %d %s", n, status, strings.TrimSpace(body))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// alive returns the workers running.
func (f *fleet) alive() []*worker {
	var out []*worker
	for _, w := range f.workers {
		if w.alive() {
			out = append(out, w)
		}
	}
	return out
}

// logs returns the log file of every worker started.
func (f *fleet) logs() []string {
	out := make([]string, len(f.workers))
	for i, w := range f.workers {
		out[i] = w.logPath
	}
	return out
}
