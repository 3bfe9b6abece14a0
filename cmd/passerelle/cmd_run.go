package main

import (
	"context"
	"flag"
	"time"

	"github.com/passerelle-dev/passerelle/workers/accounts"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/service"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

const runUsage = `Usage: passerelle run

Runs the production worker against an external NATS server (or cluster) and the
real administration APIs. Every setting comes from the environment (see the
README's configuration reference); credentials come from the accounts file named by
PASSERELLE_ACCOUNTS_FILE. Several replicas may run side by side: they share the
work. SIGTERM drains: in-flight work finishes within PASSERELLE_SHUTDOWN_GRACE.

Example:
  NATS_URL=nats://nats:4222 PASSERELLE_ACCOUNTS_FILE=/etc/passerelle/accounts.json \
    passerelle run
`

func runRun(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	if err := parseFlags(fs, runUsage, e, args); err != nil {
		return err
	}
	cfg, err := loadRunConfig(ctx, e.getenv)
	if err != nil {
		return err
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{
		Getenv: e.getenv, ServiceName: "passerelle", Version: version,
		LogLevel: cfg.LogLevel, LogFormat: cfg.LogFormat, LogOutput: e.stderr,
	})
	if err != nil {
		return err
	}
	defer shutdownTelemetry(tel)
	file, err := accounts.Load(cfg.AccountsFile)
	if err != nil {
		return err
	}
	opts := accounts.Options{Getenv: e.getenv, Telemetry: tel, UserAgent: cfg.UserAgent}
	sv := cfg.PASRAUSoftwareVersion
	if sv == "" {
		sv = version
	}
	opts.PASRAUSoftware = pasrau.UserAgent{Software: cfg.PASRAUSoftware, Version: sv, Editor: cfg.PASRAUEditor}
	opts.PASRAUAttemptTimeout = cfg.DepositTimeout
	reg, err := accounts.Build(file, opts)
	if err != nil {
		return err
	}
	nc, err := natsSettings{URL: cfg.NATSURL, Creds: cfg.NATSCreds, NKey: cfg.NATSNKey, CA: cfg.NATSCA, Cert: cfg.NATSCert, Key: cfg.NATSKey}.connect("passerelle")
	if err != nil {
		return err
	}
	defer func() { _ = nc.Drain() }()
	svc, err := service.New(cfg.service(), service.Deps{NATS: nc, Accounts: reg, Telemetry: tel})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}

func shutdownTelemetry(tel *telemetry.Telemetry) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = tel.Shutdown(ctx)
}
