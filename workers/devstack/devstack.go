// Package devstack assembles passerelle on one machine with nothing installed: an
// embedded NATS server with JetStream, the administration emulators, and accounts
// that point at them. `passerelle dev`, `passerelle bench` and the end-to-end tests
// run on it.
package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/workers/accounts"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/declaration"
	"github.com/passerelle-dev/passerelle/workers/embedded"
	"github.com/passerelle-dev/passerelle/workers/invoice"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
	"github.com/passerelle-dev/passerelle/workers/retry"
	"github.com/passerelle-dev/passerelle/workers/service"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// DemoAccount is the account the dev stack configures, named by the schema examples.
const DemoAccount = "demo"

// Config configures a stack.
type Config struct {
	// StoreDir holds JetStream's files.
	StoreDir string
	// NATSListen, ChorusProListen are host:port (port 0: any free port).
	NATSListen      string
	ChorusProListen string
	PASRAUListen    string
	// Step is the emulators' lifecycle step.
	Step time.Duration
	// ChorusProFaults are injected by the Chorus Pro emulator from the start.
	ChorusProFaults chorusprotest.Faults
	// PASRAU configures the PASRAU emulator beyond Step (faults, polling
	// constraints...); its Step is Config.Step when zero.
	PASRAU pasrautest.Config
	// Latency is both emulators' answer time to every business call (their
	// token endpoints answer at once); PASRAU.Latency, when set, wins for PASRAU.
	Latency time.Duration
	// RelaxedSync makes JetStream flush its files on the server's default
	// interval (two minutes) instead of before acknowledging each write, the
	// dev stack's default: for benchmarks that measure what the flush costs.
	RelaxedSync bool
}

// Stack is a running NATS server and emulators.
type Stack struct {
	NATS         *embedded.Server
	ChorusPro    *chorusprotest.Emulator
	ChorusProURL string
	PASRAU       *pasrautest.Emulator
	PASRAUURL    string

	servers []*http.Server
}

// Start starts the NATS server and the emulators. Close stops them.
func Start(cfg Config) (*Stack, error) {
	if cfg.NATSListen == "" {
		cfg.NATSListen = "127.0.0.1:0"
	}
	if cfg.ChorusProListen == "" {
		cfg.ChorusProListen = "127.0.0.1:0"
	}
	if cfg.PASRAUListen == "" {
		cfg.PASRAUListen = "127.0.0.1:0"
	}
	if cfg.PASRAU.Step == 0 {
		cfg.PASRAU.Step = cfg.Step
	}
	if cfg.PASRAU.Latency == 0 {
		cfg.PASRAU.Latency = cfg.Latency
	}
	ns, err := embedded.Start(embedded.Config{Listen: cfg.NATSListen, StoreDir: cfg.StoreDir, SyncAlways: !cfg.RelaxedSync, Name: "passerelle-dev"})
	if err != nil {
		return nil, err
	}
	s := &Stack{NATS: ns}
	s.ChorusPro, err = chorusprotest.New(chorusprotest.Config{Step: cfg.Step, Latency: cfg.Latency, Faults: cfg.ChorusProFaults})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("devstack: Chorus Pro emulator: %w", err)
	}
	addr, err := s.serve(cfg.ChorusProListen, s.ChorusPro)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("devstack: Chorus Pro emulator: %w", err)
	}
	s.ChorusProURL = "http://" + addr
	s.PASRAU, err = pasrautest.New(cfg.PASRAU)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("devstack: PASRAU emulator: %w", err)
	}
	if addr, err = s.serve(cfg.PASRAUListen, s.PASRAU); err != nil {
		s.Close()
		return nil, fmt.Errorf("devstack: PASRAU emulator: %w", err)
	}
	s.PASRAUURL = "http://" + addr
	return s, nil
}

func (s *Stack) serve(listen string, h http.Handler) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", listen)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

// Close stops the emulators and the NATS server.
func (s *Stack) Close() {
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
	}
	if s.NATS != nil {
		s.NATS.Shutdown()
	}
}

// Connect opens a NATS connection to the stack's server.
func (s *Stack) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect(s.NATS.ClientURL(), nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("devstack: connect: %w", err)
	}
	return nc, nil
}

// Accounts returns the demo account wired to the emulators.
// tel, when not nil, instruments the clients.
func (s *Stack) Accounts(tel *telemetry.Telemetry) (*accounts.Registry, error) {
	client, err := choruspro.New(choruspro.Config{
		BaseURL: s.ChorusProURL + "/cpro", Auth: choruspro.AuthPISTE, TokenURL: s.ChorusProURL + "/api/oauth/token",
		ClientID: chorusprotest.SeedClientID, ClientSecret: chorusprotest.SeedClientSecret,
		Login: chorusprotest.SeedLogin, Password: chorusprotest.SeedPassword, AllowHTTP: true,
		Timeout: 10 * time.Second,
	}, accounts.ChorusProOptions(tel, DemoAccount)...)
	if err != nil {
		return nil, fmt.Errorf("devstack: Chorus Pro client: %w", err)
	}
	reg := &accounts.Registry{}
	reg.AddChorusPro(&invoice.Account{Name: DemoAccount, SupplierID: chorusprotest.SeedIDFournisseur, UserID: chorusprotest.SeedIDUtilisateurCourant, Client: client})
	host := strings.TrimPrefix(s.PASRAUURL, "http://")
	demo := pasrautest.DemoDeclarant()
	pr, err := pasrau.New(pasrau.Config{
		Endpoints: pasrau.Endpoints{
			AuthURL: s.PASRAUURL + "/authentifier/1.0/", DepositURL: s.PASRAUURL + "/deposer-pasrau/1.0/",
			ListFluxURL: s.PASRAUURL + "/lister-retours-flux/1.0/", ListDeclarantURL: s.PASRAUURL + "/lister-retours-declarant/1.0/",
			AllowedDownloadHosts: []string{host}, PlainHTTPDownloadHosts: []string{host}, Service: pasrau.ServiceTest,
		},
		SIRET: demo.SIRET, Nom: demo.Nom, Prenom: demo.Prenom, MotDePasse: pasrau.Secret(demo.MotDePasse),
		UserAgent: pasrau.UserAgent{Software: "passerelle", Version: "dev", Editor: "passerelle"}, AttemptTimeout: 10 * time.Second,
	}, accounts.PASRAUOptions(tel, DemoAccount)...)
	if err != nil {
		return nil, fmt.Errorf("devstack: PASRAU client: %w", err)
	}
	reg.AddPASRAU(&declaration.Account{Name: DemoAccount, SIRET: demo.SIRET, Client: pr})
	return reg, nil
}

// ServiceConfig is the service configuration of dev mode: short intervals, so that
// a submission reaches its final status within seconds against the accelerated
// emulators.
func ServiceConfig(httpListen string) service.Config {
	c := service.DefaultConfig()
	c.HTTPListen = httpListen
	c.AckWait = 30 * time.Second
	c.Grace = 5 * time.Second
	c.Policy.BackoffBase = time.Second
	c.Policy.BackoffMax = 10 * time.Second
	c.FollowUpPolicy.BackoffBase = time.Second
	c.FollowUpPolicy.BackoffMax = 10 * time.Second
	c.Invoice.Retry.Budget = 10 * time.Second
	c.Invoice.Breaker = retry.Breaker{Threshold: 5, MinOpen: time.Second, MaxOpen: 5 * time.Second}
	c.Declaration.Breaker = c.Invoice.Breaker
	c.Invoice.AuthRetryDelay = 10 * time.Second
	c.Invoice.FlowPollInterval = time.Second
	c.Invoice.InvoicePollMin = time.Second
	c.Invoice.InvoicePollMax = 2 * time.Second
	c.Invoice.ReconcileWindow = time.Minute
	c.Declaration.Retry.Budget = 10 * time.Second
	c.Declaration.AuthRetryDelay = 10 * time.Second
	c.Declaration.FluxPoll = time.Second
	c.Declaration.AccountPoll = 2 * time.Second
	c.Declaration.PollLag = 0
	c.Declaration.PollLookback = 10 * time.Minute
	c.Declaration.ReconcileWindow = 3 * time.Minute
	c.Declaration.DepositTimeout = 10 * time.Second // the dev clients' attempt timeout
	return c
}
