package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
	"github.com/passerelle-dev/passerelle/workers/service"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

const devUsage = `Usage: passerelle dev [flags]

Runs passerelle on this machine with nothing installed: an embedded NATS server
with JetStream (files under --data-dir), the Chorus Pro and PASRAU emulators
(their lifecycles accelerated: a submission reaches its final status within
seconds), and the workers wired to them, then prints each status event as it arrives. Any NATS
client can publish to it: the examples of the JSON Schemas under schemas/ name
the account "demo" that it configures.

Flags:
  --listen-nats ADDR       NATS clients (default 127.0.0.1:4222)
  --listen-http ADDR       /healthz, /readyz and /metrics (default 127.0.0.1:8080)
  --listen-choruspro ADDR  the Chorus Pro emulator (default 127.0.0.1:8081)
  --listen-pasrau ADDR     the PASRAU emulator (default 127.0.0.1:8082)
  --data-dir DIR           JetStream storage (default: passerelle-dev in the temp directory)
  --step DURATION          the emulators' lifecycle step (default 1s)
  --demo                   also publish sample submissions: one per invoice mode
                           (structured, PDF, flow), one that Chorus Pro rejects, a valid
                           declaration, an invalid one (never deposited) and one that
                           PASRAU rejects with an avis de rejet
  --log-level LEVEL        debug, info, warn or error (default warn)

Examples:
  passerelle dev --demo
  passerelle dev &  passerelle publish --nats nats://127.0.0.1:4222 invoice.json
`

func runDev(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	listenNATS := fs.String("listen-nats", "127.0.0.1:4222", "")
	listenHTTP := fs.String("listen-http", "127.0.0.1:8080", "")
	listenCP := fs.String("listen-choruspro", "127.0.0.1:8081", "")
	listenPR := fs.String("listen-pasrau", "127.0.0.1:8082", "")
	dataDir := fs.String("data-dir", filepath.Join(os.TempDir(), "passerelle-dev"), "")
	step := fs.Duration("step", time.Second, "")
	demo := fs.Bool("demo", false, "")
	logLevel := fs.String("log-level", "warn", "")
	if err := parseFlags(fs, devUsage, e, args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o750); err != nil {
		return fmt.Errorf("dev: data directory: %w", err)
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{
		Getenv: e.getenv, ServiceName: "passerelle", Version: version,
		LogLevel: *logLevel, LogFormat: "text", LogOutput: e.stderr,
	})
	if err != nil {
		return err
	}
	defer shutdownTelemetry(tel)
	stack, err := devstack.Start(devstack.Config{StoreDir: *dataDir, NATSListen: *listenNATS, ChorusProListen: *listenCP, PASRAUListen: *listenPR, Step: *step,
		PASRAU: pasrautest.Config{MinInterval: time.Second}})
	if err != nil {
		return err
	}
	defer stack.Close()
	reg, err := stack.Accounts(tel)
	if err != nil {
		return err
	}
	nc, err := stack.Connect("passerelle dev")
	if err != nil {
		return err
	}
	defer nc.Close()
	svc, err := service.New(devstack.ServiceConfig(*listenHTTP), service.Deps{NATS: nc, Accounts: reg, Telemetry: tel})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- svc.Run(ctx) }()
	select {
	case <-svc.Ready:
	case err := <-errc:
		return err
	}
	fmt.Fprintf(e.stdout, "passerelle dev is running (Ctrl-C stops it)\n  NATS:       %s\n  HTTP:       http://%s (/healthz /readyz /metrics)\n  Chorus Pro: %s (emulator)\n  PASRAU:     %s (emulator)\n  data:       %s\n  account:    %s\n\n",
		stack.NATS.ClientURL(), svc.HTTPAddr, stack.ChorusProURL, stack.PASRAUURL, *dataDir, devstack.DemoAccount)
	go func() {
		err := watch(ctx, nc, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"invoice.status.>", "declaration.status.>", "declaration.return.>"}, DeliverPolicy: jetstream.DeliverNewPolicy},
			func(line string) { fmt.Fprintln(e.stdout, line) })
		if err != nil {
			fmt.Fprintln(e.stderr, "passerelle dev: watch:", err)
		}
	}()
	if *demo {
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		if err := publishDemo(ctx, js, e); err != nil {
			return err
		}
	}
	return <-errc
}
