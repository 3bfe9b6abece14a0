//go:build unix

package chaos

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/emulog"
)

// Upstreams of the tap.
const (
	upChorusPro = "choruspro"
	upPASRAU    = "pasrau"
)

// tapCall is one call a worker made to an emulator through the tap.
type tapCall struct {
	worker   int    // the worker's number
	account  string // the account it acted for
	upstream string // upChorusPro or upPASRAU
	op       string // as in the emulators' request logs: "soumettre", "list-declarant"...
	start    time.Time
	end      time.Time // zero while the call is in flight
	status   int       // 0 when the caller went away before an answer
}

// tap is a reverse proxy in front of both emulators that knows, as each call
// arrives, which worker makes it and for which account: each worker has an
// accounts file of its own whose URLs lead to /w<worker>/<account>/<upstream>/
// on the tap, which forwards the call (that prefix removed) to the emulator.
// The emulators' own request logs stay the ground truth of what was deposited;
// the tap adds who did it and when each call started and ended, and can hold
// the calls of an operation for a while (to keep a poll in flight).
type tap struct {
	addr    string
	proxies map[string]*httputil.ReverseProxy

	mu    sync.Mutex
	calls []*tapCall
	holds map[string]time.Duration // by upstream/op/account
}

// startTap starts a tap in front of emu on a free port, until the test ends.
func startTap(t testing.TB, emu *emulators, ps *ports) *tap {
	t.Helper()
	tp := &tap{addr: fmt.Sprintf("127.0.0.1:%d", ps.next(t)), holds: map[string]time.Duration{}, proxies: map[string]*httputil.ReverseProxy{}}
	for up, host := range map[string]string{upChorusPro: emu.chorusAddr, upPASRAU: emu.pasAddr} {
		tp.proxies[up] = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				rest := pr.In.Context().Value(callKey{}).(*tapCtx).rest
				pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.URL.Path, pr.Out.URL.RawPath = "http", host, rest, ""
				// The emulator's own address: PASRAU names its download URLs after it.
				pr.Out.Host = host
			},
			// The call ends when the emulator's answer arrives, before the
			// worker can read it: a call the worker makes once it has read an
			// answer never seems to start before that one ended.
			ModifyResponse: func(resp *http.Response) error {
				tp.ended(resp.Request.Context().Value(callKey{}).(*tapCtx).call, resp.StatusCode)
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: tp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return tp
}

// callKey carries a call's *tapCtx in its request's context.
type callKey struct{}

// tapCtx is what the proxy needs to know of a call.
type tapCtx struct {
	rest string // the path at the emulator
	call *tapCall
}

// ended records the end of c with status, unless it ended already.
func (tp *tap) ended(c *tapCall, status int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if c.end.IsZero() {
		c.end, c.status = time.Now(), status
	}
}

// base returns the base URL of upstream for a worker and an account.
func (tp *tap) base(worker int, account, upstream string) string {
	return fmt.Sprintf("http://%s/w%d/%s/%s", tp.addr, worker, account, upstream)
}

// ServeHTTP records the call, holds it if asked to, and forwards it.
func (tp *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 4)
	if len(parts) < 4 || !strings.HasPrefix(parts[0], "w") || tp.proxies[parts[2]] == nil {
		http.NotFound(w, r)
		return
	}
	n, err := strconv.Atoi(parts[0][1:])
	if err != nil {
		http.NotFound(w, r)
		return
	}
	rest := "/" + parts[3]
	c := &tapCall{worker: n, account: parts[1], upstream: parts[2], op: tapOp(parts[2], rest), start: time.Now()}
	tp.mu.Lock()
	tp.calls = append(tp.calls, c)
	hold := tp.holds[c.upstream+"/"+c.op+"/"+c.account]
	tp.mu.Unlock()
	rec := &emulog.StatusWriter{ResponseWriter: w}
	defer func() { tp.ended(c, rec.Status) }()
	if hold > 0 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(hold):
		}
	}
	tp.proxies[c.upstream].ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), callKey{}, &tapCtx{rest: rest, call: c})))
}

// hold delays the calls of op to upstream for account by d before forwarding
// them (0: no more).
func (tp *tap) hold(upstream, op, account string, d time.Duration) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.holds[upstream+"/"+op+"/"+account] = d
}

// snapshot returns a copy of every call recorded, in the order they arrived.
func (tp *tap) snapshot() []tapCall {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := make([]tapCall, len(tp.calls))
	for i, c := range tp.calls {
		out[i] = *c
	}
	return out
}

// inFlight returns a call of op to upstream for account still in flight, from a
// worker accepted by ok.
func (tp *tap) inFlight(upstream, op, account string, ok func(worker int) bool) (tapCall, bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, c := range tp.calls {
		if c.end.IsZero() && c.upstream == upstream && c.op == op && c.account == account && ok(c.worker) {
			return *c, true
		}
	}
	return tapCall{}, false
}

// chorusOps names the Chorus Pro operations by their path under /cpro/, as the
// emulator's request log does.
var chorusOps = map[string]string{
	"/cpro/factures/v1/deposer/pdf":            "deposerPDF",
	"/cpro/factures/v1/soumettre":              "soumettre",
	"/cpro/factures/v1/deposer/flux":           "deposerFlux",
	"/cpro/factures/v1/rechercher/fournisseur": "rechercherFacturesFournisseur",
	"/cpro/factures/v1/consulter/historique":   "consulterHistorique",
	"/cpro/transverses/v1/consulterCRDetaille": "consulterCRDetaille",
	"/api/oauth/token":                         "token",
}

// pasrauOps names the PASRAU operations by the start of their path (listings
// add their flux or range to it), as the emulator's request log does.
var pasrauOps = map[string]string{
	"/authentifier/1.0/":             "auth",
	"/deposer-pasrau/1.0/":           "deposit",
	"/lister-retours-flux/1.0/":      "list-flux",
	"/lister-retours-declarant/1.0/": "list-declarant",
}

// tapOp names the operation of a call to upstream at path.
func tapOp(upstream, path string) string {
	if upstream == upPASRAU {
		for prefix, op := range pasrauOps {
			if strings.HasPrefix(path, prefix) {
				return op
			}
		}
		return "other"
	}
	if op, ok := chorusOps[path]; ok {
		return op
	}
	return "other"
}
