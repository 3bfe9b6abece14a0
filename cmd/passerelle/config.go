package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/passerelle-dev/passerelle/workers/retry"
	"github.com/passerelle-dev/passerelle/workers/runtime"
	"github.com/passerelle-dev/passerelle/workers/service"
)

// runConfig is every setting of `passerelle run`, read from the environment. The
// README's configuration reference lists each one with its default (a test checks).
type runConfig struct {
	NATSURL   string `env:"NATS_URL, default=nats://127.0.0.1:4222"`
	NATSCreds string `env:"PASSERELLE_NATS_CREDS"`
	NATSNKey  string `env:"PASSERELLE_NATS_NKEY"`
	NATSCA    string `env:"PASSERELLE_NATS_CA"`
	NATSCert  string `env:"PASSERELLE_NATS_CERT"`
	NATSKey   string `env:"PASSERELLE_NATS_KEY"`

	AccountsFile string `env:"PASSERELLE_ACCOUNTS_FILE, required"`
	HTTPListen   string `env:"PASSERELLE_HTTP_LISTEN, default=:8080"`
	LogLevel     string `env:"PASSERELLE_LOG_LEVEL, default=info"`
	LogFormat    string `env:"PASSERELLE_LOG_FORMAT, default=json"`
	UserAgent    string `env:"PASSERELLE_USER_AGENT"`

	Concurrency         int           `env:"PASSERELLE_CONCURRENCY, default=32"`
	FollowUpConcurrency int           `env:"PASSERELLE_FOLLOWUP_CONCURRENCY, default=32"`
	AckWait             time.Duration `env:"PASSERELLE_ACK_WAIT, default=60s"`
	MaxAckPending       int           `env:"PASSERELLE_MAX_ACK_PENDING, default=1000"`
	MaxDeliveries       int           `env:"PASSERELLE_MAX_DELIVERIES, default=10"`
	RedeliveryBase      time.Duration `env:"PASSERELLE_REDELIVERY_BASE, default=5s"`
	RedeliveryMax       time.Duration `env:"PASSERELLE_REDELIVERY_MAX, default=10m"`
	CallBudget          time.Duration `env:"PASSERELLE_CALL_BUDGET, default=20s"`
	ShutdownGrace       time.Duration `env:"PASSERELLE_SHUTDOWN_GRACE, default=30s"`
	AuthRetryDelay      time.Duration `env:"PASSERELLE_AUTH_RETRY_DELAY, default=5m"`
	BreakerThreshold    int           `env:"PASSERELLE_BREAKER_THRESHOLD, default=5"`
	BreakerMinOpen      time.Duration `env:"PASSERELLE_BREAKER_MIN_OPEN, default=5s"`
	BreakerMaxOpen      time.Duration `env:"PASSERELLE_BREAKER_MAX_OPEN, default=1m"`
	ChorusProRateLimit  float64       `env:"PASSERELLE_CHORUSPRO_RATE_LIMIT, default=0"`
	PASRAURateLimit     float64       `env:"PASSERELLE_PASRAU_RATE_LIMIT, default=0"`

	FlowPoll        time.Duration `env:"PASSERELLE_CHORUSPRO_FLOW_POLL, default=5m"`
	InvoicePollMin  time.Duration `env:"PASSERELLE_CHORUSPRO_INVOICE_POLL_MIN, default=15m"`
	InvoicePollMax  time.Duration `env:"PASSERELLE_CHORUSPRO_INVOICE_POLL_MAX, default=6h"`
	ReconcileWindow time.Duration `env:"PASSERELLE_CHORUSPRO_RECONCILE_WINDOW, default=24h"`

	FluxPoll              time.Duration `env:"PASSERELLE_PASRAU_FLUX_POLL, default=2m"`
	AccountPoll           time.Duration `env:"PASSERELLE_PASRAU_ACCOUNT_POLL, default=10m"`
	PollLag               time.Duration `env:"PASSERELLE_PASRAU_POLL_LAG, default=2m"`
	PollLookback          time.Duration `env:"PASSERELLE_PASRAU_POLL_LOOKBACK, default=24h"`
	PASRAUReconcileWindow time.Duration `env:"PASSERELLE_PASRAU_RECONCILE_WINDOW, default=2h"`
	DepositTimeout        time.Duration `env:"PASSERELLE_PASRAU_DEPOSIT_TIMEOUT, default=2m"`
	InlineDocumentMax     int           `env:"PASSERELLE_PASRAU_INLINE_DOCUMENT_MAX, default=65536"`
	PASRAUSoftware        string        `env:"PASSERELLE_PASRAU_SOFTWARE, default=passerelle"`
	PASRAUSoftwareVersion string        `env:"PASSERELLE_PASRAU_SOFTWARE_VERSION"`
	PASRAUEditor          string        `env:"PASSERELLE_PASRAU_EDITOR, default=passerelle"`

	Replicas          int           `env:"PASSERELLE_REPLICAS, default=1"`
	IntakeMaxAge      time.Duration `env:"PASSERELLE_INTAKE_MAX_AGE, default=720h"`
	EventsMaxAge      time.Duration `env:"PASSERELLE_EVENTS_MAX_AGE, default=9600h"`
	DeadLetterMaxAge  time.Duration `env:"PASSERELLE_DEADLETTER_MAX_AGE, default=2160h"`
	DuplicateWindow   time.Duration `env:"PASSERELLE_DUPLICATE_WINDOW, default=10m"`
	StreamMaxBytes    int64         `env:"PASSERELLE_STREAM_MAX_BYTES, default=-1"`
	DocumentsMaxBytes int64         `env:"PASSERELLE_DOCUMENTS_MAX_BYTES, default=-1"`
	DocumentsMaxAge   time.Duration `env:"PASSERELLE_DOCUMENTS_MAX_AGE, default=2400h"`
}

// loadRunConfig reads and checks the settings.
func loadRunConfig(ctx context.Context, getenv func(string) string) (*runConfig, error) {
	var c runConfig
	err := envconfig.ProcessWith(ctx, &envconfig.Config{
		Target: &c,
		Lookuper: envconfig.LookuperFunc(func(k string) (string, bool) {
			v := getenv(k)
			return v, v != ""
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("configuration: %s", envErrorText(err))
	}
	switch {
	case c.Concurrency < 1 || c.FollowUpConcurrency < 1:
		return nil, fmt.Errorf("configuration: PASSERELLE_CONCURRENCY and PASSERELLE_FOLLOWUP_CONCURRENCY must be at least 1")
	case c.AckWait < 2*c.CallBudget:
		return nil, fmt.Errorf("configuration: PASSERELLE_ACK_WAIT (%s) must be at least twice PASSERELLE_CALL_BUDGET (%s), so that an attempt with its retries ends well before the message is redelivered", c.AckWait, c.CallBudget)
	case c.MaxAckPending < c.Concurrency:
		return nil, fmt.Errorf("configuration: PASSERELLE_MAX_ACK_PENDING (%d) must be at least PASSERELLE_CONCURRENCY (%d)", c.MaxAckPending, c.Concurrency)
	case c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5:
		return nil, fmt.Errorf("configuration: PASSERELLE_REPLICAS is %d; JetStream replicas are 1, 3 or 5", c.Replicas)
	case c.BreakerThreshold < 1 || c.BreakerMinOpen <= 0 || c.BreakerMaxOpen < c.BreakerMinOpen:
		return nil, fmt.Errorf("configuration: PASSERELLE_BREAKER_THRESHOLD must be at least 1 and PASSERELLE_BREAKER_MAX_OPEN (%s) at least PASSERELLE_BREAKER_MIN_OPEN (%s)", c.BreakerMaxOpen, c.BreakerMinOpen)
	case c.ChorusProRateLimit < 0 || c.PASRAURateLimit < 0:
		return nil, fmt.Errorf("configuration: rate limits are calls per second, 0 for none, never negative")
	case c.MaxDeliveries < 1:
		return nil, fmt.Errorf("configuration: PASSERELLE_MAX_DELIVERIES must be at least 1")
	case c.PASRAUReconcileWindow < c.DepositTimeout+2*time.Minute:
		return nil, fmt.Errorf("configuration: PASSERELLE_PASRAU_RECONCILE_WINDOW (%s) must exceed PASSERELLE_PASRAU_DEPOSIT_TIMEOUT (%s) by two minutes, or a lost deposit could never be proven absent", c.PASRAUReconcileWindow, c.DepositTimeout)
	}
	return &c, nil
}

// service returns the service configuration these settings describe.
func (c *runConfig) service() service.Config {
	s := service.DefaultConfig()
	s.Topology.Replicas = c.Replicas
	s.Topology.IntakeMaxAge = c.IntakeMaxAge
	s.Topology.EventsMaxAge = c.EventsMaxAge
	s.Topology.DeadLetterMaxAge = c.DeadLetterMaxAge
	s.Topology.Duplicates = c.DuplicateWindow
	s.Topology.MaxBytes = c.StreamMaxBytes
	s.Topology.DocumentsMaxBytes = c.DocumentsMaxBytes
	s.Topology.DocumentsMaxAge = c.DocumentsMaxAge
	s.Concurrency = c.Concurrency
	s.FollowUpConcurrency = c.FollowUpConcurrency
	s.AckWait = c.AckWait
	s.MaxAckPending = c.MaxAckPending
	s.Policy = runtime.Policy{MaxDeliveries: c.MaxDeliveries, BackoffBase: c.RedeliveryBase, BackoffMax: c.RedeliveryMax}
	s.Grace = c.ShutdownGrace
	s.HTTPListen = c.HTTPListen
	breaker := retry.Breaker{Threshold: c.BreakerThreshold, MinOpen: c.BreakerMinOpen, MaxOpen: c.BreakerMaxOpen}
	s.ChorusProRateLimit, s.PASRAURateLimit = c.ChorusProRateLimit, c.PASRAURateLimit
	s.Invoice.Breaker, s.Declaration.Breaker = breaker, breaker
	s.Invoice.Retry.Budget = c.CallBudget
	s.Invoice.AuthRetryDelay = c.AuthRetryDelay
	s.Invoice.FlowPollInterval = c.FlowPoll
	s.Invoice.InvoicePollMin = c.InvoicePollMin
	s.Invoice.InvoicePollMax = c.InvoicePollMax
	s.Invoice.ReconcileWindow = c.ReconcileWindow
	s.Declaration.Retry.Budget = c.CallBudget
	s.Declaration.AuthRetryDelay = c.AuthRetryDelay
	s.Declaration.FluxPoll = c.FluxPoll
	s.Declaration.AccountPoll = c.AccountPoll
	s.Declaration.PollLag = c.PollLag
	s.Declaration.PollLookback = c.PollLookback
	s.Declaration.ReconcileWindow = c.PASRAUReconcileWindow
	s.Declaration.DepositTimeout = c.DepositTimeout
	s.Declaration.InlineDocumentMax = c.InlineDocumentMax
	return s
}

// envErrorText names the environment variable at fault where envconfig names the
// struct field.
func envErrorText(err error) string {
	msg := err.Error()
	typ := reflect.TypeFor[runConfig]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if rest, ok := strings.CutPrefix(msg, f.Name+":"); ok {
			return name + ":" + rest
		}
	}
	return msg
}
