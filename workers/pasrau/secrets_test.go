package pasrau_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

func TestErrorsNeverShowSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{MinInterval: time.Hour}, false)
	var seen sync.Map
	cfg := h.config(alice())
	c := h.client(cfg, pasrau.WithTransportWrapper(recordAuthorization(&seen)))
	ctx := context.Background()
	var errs []error
	collect := func(_ any, err error) {
		if err == nil {
			t.Errorf("expected an error")
			return
		}
		errs = append(errs, err)
	}
	collect(c.Deposit(ctx, latin1File(t, "guide-sample.txt", "", "")))
	collect(c.ListByFlux(ctx, "UnknownFluxId0000000000", 0, 0))
	_, _ = c.ListByDeclarant(ctx, h.clock.Now().Add(-time.Minute), time.Time{}, 0, 0)
	collect(c.ListByDeclarant(ctx, h.clock.Now().Add(-time.Minute), time.Time{}, 0, 0)) // 429
	collect(c.Download(ctx, "http://"+h.srv.Listener.Addr().String()+"/telecharger-retour/1.0/abc/123"))
	collect(c.Download(ctx, "https://evil.example/x"))
	if err := h.emu.SetFaults(pasrautest.Faults{DropProbability: 1}); err != nil {
		t.Fatal(err)
	}
	collect(c.Deposit(ctx, latin1File(t, "valid-declaration.txt", "", "")))
	if err := h.emu.SetFaults(pasrautest.Faults{TokenExpiresAfterCalls: 1}); err != nil {
		t.Fatal(err)
	}
	bad := h.config(alice())
	bad.MotDePasse = "wrong-password-42"
	collect(h.client(bad).ListByFlux(ctx, "abc", 0, 0))

	var secrets []string
	seen.Range(func(k, _ any) bool {
		secrets = append(secrets, strings.TrimPrefix(k.(string), "PASRAULogin jeton="))
		return true
	})
	if len(secrets) == 0 {
		t.Fatal("no token seen")
	}
	secrets = append(secrets, string(cfg.MotDePasse), "wrong-password-42")
	for _, err := range errs {
		for _, form := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			for _, s := range secrets {
				if strings.Contains(form, s) {
					t.Errorf("error %q shows a secret", form)
				}
			}
		}
	}
}
