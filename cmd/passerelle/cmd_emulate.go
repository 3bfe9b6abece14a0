package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

const emulateUsage = `Usage: passerelle emulate choruspro|pasrau [flags]

Runs an emulator of an administration's API for other teams' tests. It answers
like the real API (paths, status codes, headers, field names) from seeded
accounts, moves submissions through their lifecycle one step every --step, and
injects faults on request. GET /emulator/requests lists every call received;
GET/PUT /emulator/faults reads and changes the faults.

Flags:
  --listen ADDR      address to listen on (default 127.0.0.1:8081 for choruspro,
                     127.0.0.1:8082 for pasrau)
  --step DURATION    time between two lifecycle steps (default 1s)
  --latency D        the API's own answer time: every business call is answered
                     D after it is applied (default 0; tokens at once)
  --faults FILE      faults to inject from the start (JSON, as PUT /emulator/faults)
  --min-interval D   pasrau: the polling interval announced in Expires and enforced
                     (default 0: none, as the guide says PASRAU does today)
  --max-range N      pasrau: the widest listing range, in minutes (default 60)
  --tls-cert FILE    serve HTTPS with this certificate (PEM) and --tls-key
  --tls-key FILE
  --client-ca FILE   with TLS: verify client certificates against these CAs and
                     require one in direct mode (/service/..., /service-qualif/...)

The PASRAU emulator knows one declarant (SIRET 53755096400010, nom DEMO, prenom
Passerelle, password demo-pasrau, service code 80) and serves every service from
one listener: /authentifier/1.0/, /deposer-pasrau/1.0/, /lister-retours-flux/1.0/,
/lister-retours-declarant/1.0/ and the download urls it lists.

Examples:
  passerelle emulate choruspro --listen 127.0.0.1:8081
  passerelle emulate choruspro --faults faults.json   # {"seed":1,"unavailableProbability":0.3}
  passerelle emulate pasrau --min-interval 1m
  passerelle emulate choruspro --latency 200ms
`

func runEmulate(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, emulateUsage)
		if len(args) == 0 {
			return &usageError{"emulate: name the API to emulate: choruspro"}
		}
		return nil
	}
	switch args[0] {
	case "choruspro":
		return emulateChorusPro(ctx, e, args[1:])
	case "pasrau":
		return emulatePASRAU(ctx, e, args[1:])
	}
	return &usageError{fmt.Sprintf("emulate: unknown API %q (choruspro or pasrau)", args[0])}
}

func emulateChorusPro(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("emulate choruspro", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8081", "")
	step := fs.Duration("step", time.Second, "")
	latency := fs.Duration("latency", 0, "")
	faultsFile := fs.String("faults", "", "")
	certFile := fs.String("tls-cert", "", "")
	keyFile := fs.String("tls-key", "", "")
	clientCA := fs.String("client-ca", "", "")
	if err := parseFlags(fs, emulateUsage, e, args); err != nil {
		return err
	}
	cfg := chorusprotest.Config{Step: *step, RequireClientCert: *clientCA != "", Latency: *latency}
	if *faultsFile != "" {
		b, err := os.ReadFile(*faultsFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &cfg.Faults); err != nil {
			return fmt.Errorf("emulate: faults file %s: %w", *faultsFile, err)
		}
	}
	emu, err := chorusprotest.New(cfg)
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if *certFile != "" || *keyFile != "" {
		tc, err := serverTLS(*certFile, *keyFile, *clientCA)
		if err != nil {
			return err
		}
		ln, scheme = tls.NewListener(ln, tc), "https"
	}
	fmt.Fprintf(e.stdout, "Chorus Pro emulator on %s://%s (token: /api/oauth/token, API: /cpro/..., direct mode: /service-qualif/...)\n", scheme, ln.Addr())
	return serveUntilDone(ctx, ln, emu)
}

func emulatePASRAU(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("emulate pasrau", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8082", "")
	step := fs.Duration("step", time.Second, "")
	latency := fs.Duration("latency", 0, "")
	faultsFile := fs.String("faults", "", "")
	minInterval := fs.Duration("min-interval", 0, "")
	maxRange := fs.Int("max-range", 60, "")
	if err := parseFlags(fs, emulateUsage, e, args); err != nil {
		return err
	}
	cfg := pasrautest.Config{Step: *step, MinInterval: *minInterval, MaxRangeMinutes: *maxRange, Latency: *latency}
	if *faultsFile != "" {
		b, err := os.ReadFile(*faultsFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &cfg.Faults); err != nil {
			return fmt.Errorf("emulate: faults file %s: %w", *faultsFile, err)
		}
	}
	emu, err := pasrautest.New(cfg)
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "PASRAU emulator on http://%s (auth /authentifier/1.0/, deposit /deposer-pasrau/1.0/, listings /lister-retours-flux/1.0/ and /lister-retours-declarant/1.0/)\n", ln.Addr())
	return serveUntilDone(ctx, ln, emu)
}

// serveUntilDone serves h on ln until ctx ends, then shuts the server down.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

func serverTLS(certFile, keyFile, clientCA string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("emulate: TLS certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("emulate: %s holds no PEM certificate", clientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
