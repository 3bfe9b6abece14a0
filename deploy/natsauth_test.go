package deploy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
	"github.com/passerelle-dev/passerelle/workers/service"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// passwordVariables maps each user of the PASSERELLE account to the environment
// variable that holds its password in nats-accounts.conf.
func passwordVariables() map[string]string {
	return map[string]string{
		"passerelle": "PASSERELLE_NATS_PASSWORD",
		"producer":   "PRODUCER_NATS_PASSWORD",
		"operator":   "OPERATOR_NATS_PASSWORD",
		"observer":   "OBSERVER_NATS_PASSWORD",
	}
}

// TestNATSConfigNeedsEveryPassword checks that the server refuses nats.conf when
// one of the password variables is missing, rather than starting with a user
// that anyone could log in as.
func TestNATSConfigNeedsEveryPassword(t *testing.T) {
	vars := passwordVariables()
	for _, missing := range vars {
		t.Run(missing, func(t *testing.T) {
			for _, v := range vars {
				t.Setenv(v, "secret")
			}
			if err := os.Unsetenv(missing); err != nil {
				t.Fatal(err)
			}
			_, err := server.ProcessConfigFile("nats.conf")
			if err == nil || !strings.Contains(err.Error(), missing) {
				t.Errorf("ProcessConfigFile without %s = %v, want an error naming it", missing, err)
			}
		})
	}
}

// TestNATSAccounts runs passerelle as the `passerelle` user of nats.conf (which
// includes nats-accounts.conf) on a real NATS server, submits an invoice and a
// declaration as `producer`, reads their statuses as `producer` and `observer`,
// works on the dead letters and the ledger as `operator`, and checks that no
// permission the worker needs is missing and that what each user must not do is
// refused by the server.
func TestNATSAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs passerelle end to end against the permissions of nats-accounts.conf")
	}
	ns := startServer(t)
	svc, svcLogs, worker := startService(t, ns)
	failed := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\n\nserver's permission violations:\n%s\n\npasserelle's warnings and errors:\n%s\n\nworker connection's errors:\n%s",
			append(args, strings.Join(ns.log.violations(""), "\n"), svcLogs.String(), strings.Join(worker.errors(), "\n"))...)
	}

	// refused fails at once when the server refused anything so far: an allowed
	// operation that the configuration forgot.
	refused := func() {
		t.Helper()
		if v := ns.log.violations(""); len(v) > 0 {
			failed("the server refused %d allowed operation(s):\n%s", len(v), strings.Join(v, "\n"))
		}
	}

	producer := ns.connect(t, "producer", "payroll", nats.CustomInboxPrefix("_INBOX_producer"))
	observer := ns.connect(t, "observer", "accounting", nats.CustomInboxPrefix("_INBOX_observer"))
	operator := ns.connect(t, "operator", "passerelle dlq")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The producer reads the events through its durable consumer, the observer
	// live and through its own durable consumer.
	viaProducer := newStatusLog()
	cons, err := producer.js.CreateOrUpdateConsumer(ctx, runtime.StreamEvents, jetstream.ConsumerConfig{Durable: "producer", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		failed("producer: create its consumer of %s: %v", runtime.StreamEvents, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		viaProducer.record(ctx, m.Subject(), m.Headers(), m.Data())
		_ = m.Ack()
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) { producer.add(err) }))
	if err != nil {
		failed("producer: consume: %v", err)
	}
	defer cc.Stop()
	viaObserver := newStatusLog()
	for _, subject := range []string{"invoice.status.>", "declaration.status.>", "declaration.return.>"} {
		if _, err := observer.nc.Subscribe(subject, func(m *nats.Msg) { viaObserver.record(ctx, m.Subject, m.Header, m.Data) }); err != nil {
			failed("observer: subscribe %s: %v", subject, err)
		}
	}
	observerCons, err := observer.js.CreateOrUpdateConsumer(ctx, runtime.StreamEvents, jetstream.ConsumerConfig{Durable: "observer", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		failed("observer: create its consumer of %s: %v", runtime.StreamEvents, err)
	}
	if err := observer.nc.Flush(); err != nil {
		failed("observer: flush: %v", err)
	}

	// The producer submits an invoice whose PDF is in the Object Store, a
	// declaration, and an invoice that breaks its schema (for the dead letters).
	obs, err := producer.js.ObjectStore(ctx, events.DocumentsBucket)
	if err != nil {
		failed("producer: the documents bucket: %v", err)
	}
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0"), 2<<20)...)
	doc, err := events.NewDocument(ctx, obs, "F-ACL-1.pdf", "application/pdf", pdf, 1<<10)
	if err != nil || doc.Object == nil {
		failed("producer: store a document: %+v, %v", doc, err)
	}
	inv := invoiceExample(t, 1)
	inv.Invoice.Number, inv.Document = "F-ACL-1", doc
	invoice, err := events.NewInvoiceSubmit("", inv)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../workers/pasrau/testdata/valid-declaration.txt")
	if err != nil {
		t.Fatal(err)
	}
	declaration, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{Account: devstack.DemoAccount,
		File: events.DeclarationFile{Encoding: events.EncodingUTF8, Text: string(text)}})
	if err != nil {
		t.Fatal(err)
	}
	invalid, err := events.New(events.TypeInvoiceSubmit, uuid.NewString(), "", map[string]any{"account": devstack.DemoAccount})
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(producer.js)
	for _, e := range []*event.Event{invoice, declaration, invalid} {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := pub.Publish(pctx, e.Type(), e)
		cancel()
		if err != nil {
			failed("producer: publish %s: %v", e.Type(), err)
		}
	}

	// Each reaches its final status, seen by the producer and the observer, and
	// the declaration's returns arrive (the PASRAU poller ran), their documents
	// in the Object Store.
	want := map[string]string{invoice.ID(): "MISE_EN_PAIEMENT", declaration.ID(): events.StateAccepted, invalid.ID(): events.StateRejected}
	waitFor(t, 2*time.Minute, func() bool {
		refused()
		for id := range want {
			if _, ok := viaProducer.final(id); !ok {
				return false
			}
			if _, ok := viaObserver.final(id); !ok {
				return false
			}
		}
		return viaProducer.document() != nil && viaObserver.document() != nil
	}, func() string {
		return fmt.Sprintf("final statuses and returns: producer saw %s; observer saw %s", viaProducer, viaObserver)
	}, failed)
	for id, state := range want {
		if got, _ := viaProducer.final(id); got != state {
			t.Errorf("submission %s ended %s, want %s", id, got, state)
		}
	}
	// The observer's durable consumer delivers the same events.
	batch, err := observerCons.Fetch(5, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		failed("observer: fetch: %v", err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		if err := m.DoubleAck(ctx); err != nil {
			failed("observer: ack: %v", err)
		}
	}
	if err := batch.Error(); err != nil || n != 5 {
		failed("observer: fetched %d events through its consumer, want 5: %v", n, err)
	}

	// The producer and the observer read a return document the worker stored.
	for _, c := range []struct {
		client *client
		log    *statusLog
	}{{producer, viaProducer}, {observer, viaObserver}} {
		obs, err := c.client.js.ObjectStore(ctx, events.DocumentsBucket)
		if err != nil {
			failed("%s: the documents bucket: %v", c.client.user, err)
		}
		if _, err := events.ReadObject(ctx, obs, c.log.document(), 10<<20); err != nil {
			failed("%s: read a return document: %v", c.client.user, err)
		}
	}

	// The worker's health and metrics read its consumers and the follow-up stream.
	for _, path := range []string{"/readyz", "/metrics"} {
		if status, body := httpGet(ctx, "http://"+svc.HTTPAddr+path); status != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, status, body)
		}
	}

	operatorWorks(ctx, t, operator, invalid.ID(), inv.Invoice.Number, failed, refused)

	// So far every user did only what it may: the server refused nothing.
	refused()

	t.Run("producer denied", func(t *testing.T) { checkProducerDenied(t, producer) })
	t.Run("operator denied", func(t *testing.T) { checkOperatorDenied(t, operator) })
	t.Run("passerelle denied", func(t *testing.T) {
		checkDenied(t, ns.connect(t, "passerelle", "passerelle probe"), []denial{
			publishDenial("submit an invoice (only producers and operators do)", events.TypeInvoiceSubmit),
			publishDenial("publish outside passerelle's subjects", "payroll.salaries"),
			{"delete a stream", `publish to "$JS.API.STREAM.DELETE.PASSERELLE_EVENTS"`, false, func(ctx context.Context, c *client) error {
				return c.js.DeleteStream(ctx, runtime.StreamEvents)
			}},
			{"purge a stream", `publish to "$JS.API.STREAM.PURGE.PASSERELLE_INVOICES"`, false, func(ctx context.Context, c *client) error {
				_, err := c.nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE.PASSERELLE_INVOICES", nil)
				return err
			}},
			{"delete a consumer", `publish to "$JS.API.CONSUMER.DELETE.PASSERELLE_INVOICES.invoice-submit"`, false, func(ctx context.Context, c *client) error {
				return c.js.DeleteConsumer(ctx, runtime.StreamInvoices, "invoice-submit")
			}},
			subscribeDenial("listen to the intake subjects", events.TypeInvoiceSubmit),
		})
	})
	t.Run("observer denied", func(t *testing.T) {
		checkDenied(t, observer, []denial{
			publishDenial("submit an invoice", events.TypeInvoiceSubmit),
			publishDenial("publish a status event", "invoice.status."+devstack.DemoAccount),
			subscribeDenial("listen to the other users' inboxes", "_INBOX.>"),
			{"create a consumer of another name", `publish to "$JS.API.CONSUMER.CREATE.PASSERELLE_EVENTS.other"`, false, func(ctx context.Context, c *client) error {
				_, err := c.js.CreateOrUpdateConsumer(ctx, runtime.StreamEvents, jetstream.ConsumerConfig{Durable: "other"})
				return err
			}},
		})
	})

	// The worker kept running through all this without a refusal or an error.
	if status, body := httpGet(ctx, "http://"+svc.HTTPAddr+"/readyz"); status != http.StatusOK {
		t.Errorf("GET /readyz = %d %s", status, body)
	}
	if v := ns.log.violations("passerelle under test"); len(v) > 0 {
		failed("the server refused %d operation(s) of the worker:\n%s", len(v), strings.Join(v, "\n"))
	}
	if errs := worker.errors(); len(errs) > 0 {
		failed("the worker's connection reported errors:\n%s", strings.Join(errs, "\n"))
	}
}

// operatorWorks does what `passerelle dlq` and `passerelle status` do, as the
// operator: list, show and replay the dead letters, read the ledger and the
// events stream.
func operatorWorks(ctx context.Context, t *testing.T, op *client, invalidID, invoiceNumber string, failed func(string, ...any), refused func()) {
	bodies, err := op.js.ObjectStore(ctx, runtime.BucketDocuments)
	if err != nil {
		failed("operator: the documents bucket: %v", err)
	}
	dl := runtime.NewDeadLetters(op.js, bodies, nil)
	// awaitDeadLetter waits for the dead letter that match accepts, listing them
	// as the operator does.
	awaitDeadLetter := func(what string, match func(*runtime.DeadLetter) bool) *runtime.DeadLetter {
		var found *runtime.DeadLetter
		waitFor(t, 30*time.Second, func() bool {
			refused()
			letters, err := dl.List(ctx)
			if err != nil {
				failed("operator: dlq list: %v", err)
			}
			for _, d := range letters {
				if match(d) {
					found = d
					return true
				}
			}
			return false
		}, func() string { return what }, failed)
		return found
	}
	first := awaitDeadLetter("the rejected invoice's dead letter", func(d *runtime.DeadLetter) bool { return d.Header.Get("ce-id") == invalidID })
	if _, err := dl.Get(ctx, first.Seq); err != nil {
		failed("operator: dlq show %d: %v", first.Seq, err)
	}
	if err := dl.Replay(ctx, first.Seq, false); err != nil {
		failed("operator: dlq replay %d: %v", first.Seq, err)
	}
	if _, err := dl.Get(ctx, first.Seq); !errors.Is(err, runtime.ErrNoDeadLetter) {
		t.Errorf("dead letter %d after its replay: %v, want it gone", first.Seq, err)
	}
	// The replayed event reached the worker, which dead-lettered it again.
	awaitDeadLetter("the replayed invoice's new dead letter", func(d *runtime.DeadLetter) bool {
		return d.Header.Get(runtime.HeaderReplay) == strconv.FormatUint(first.Seq, 10)
	})

	// passerelle status: the ledger's records of the invoice, and its events.
	kv, err := op.js.KeyValue(ctx, runtime.BucketLedger)
	if err != nil {
		failed("operator: the ledger: %v", err)
	}
	ledger := runtime.NewLedger(kv, nil)
	keys, err := ledger.Matching(ctx, "invoice.*."+runtime.Key(invoiceNumber))
	if err != nil || len(keys) == 0 {
		failed("operator: the ledger's keys of invoice %s: %v, %v", invoiceNumber, keys, err)
	}
	if raw, err := ledger.Raw(ctx, keys[0]); err != nil || !bytes.Contains(raw, []byte(invoiceNumber)) {
		t.Errorf("operator: ledger record %s = %s, %v", keys[0], raw, err)
	}
	oc, err := op.js.OrderedConsumer(ctx, runtime.StreamEvents, jetstream.OrderedConsumerConfig{})
	if err != nil {
		failed("operator: read %s: %v", runtime.StreamEvents, err)
	}
	batch, err := oc.FetchNoWait(500)
	if err != nil {
		failed("operator: fetch from %s: %v", runtime.StreamEvents, err)
	}
	n := 0
	for range batch.Messages() {
		n++
	}
	if err := batch.Error(); err != nil || n == 0 {
		t.Errorf("operator: read %d events from %s: %v", n, runtime.StreamEvents, err)
	}

}

// checkOperatorDenied checks that the operator cannot write the ledger, publish
// events, delete or purge streams, nor read the intake streams.
func checkOperatorDenied(t *testing.T, op *client) {
	checkDenied(t, op, []denial{
		publishDenial("write the ledger", "$KV.passerelle-ledger.invoice.demo.F-ACL-1"),
		publishDenial("publish a status event", "invoice.status."+devstack.DemoAccount),
		{"delete a stream", `publish to "$JS.API.STREAM.DELETE.PASSERELLE_DEADLETTER"`, false, func(ctx context.Context, c *client) error {
			return c.js.DeleteStream(ctx, runtime.StreamDeadLetter)
		}},
		{"purge the events", `publish to "$JS.API.STREAM.PURGE.PASSERELLE_EVENTS"`, false, func(ctx context.Context, c *client) error {
			s, err := c.js.Stream(ctx, runtime.StreamEvents)
			if err != nil {
				return fmt.Errorf("the events stream should be visible: %w", err)
			}
			return s.Purge(ctx)
		}},
		{"read the intake stream", `publish to "$JS.API.CONSUMER.CREATE.PASSERELLE_INVOICES.`, false, func(ctx context.Context, c *client) error {
			_, err := c.js.OrderedConsumer(ctx, runtime.StreamInvoices, jetstream.OrderedConsumerConfig{})
			return err
		}},
	})
}

// checkProducerDenied checks that the producer cannot publish status events,
// delete or purge streams, read the ledger or the intake streams, nor listen to
// anything but its own inbox and the events.
func checkProducerDenied(t *testing.T, p *client) {
	checkDenied(t, p, []denial{
		{"publish a status event", `publish to "invoice.status.demo"`, false, func(ctx context.Context, c *client) error {
			_, err := c.js.PublishMsg(ctx, &nats.Msg{Subject: "invoice.status.demo", Data: []byte(`{}`)})
			return err
		}},
		{"delete a stream", `publish to "$JS.API.STREAM.DELETE.PASSERELLE_INVOICES"`, false, func(ctx context.Context, c *client) error {
			return c.js.DeleteStream(ctx, runtime.StreamInvoices)
		}},
		{"open the ledger", `publish to "$JS.API.STREAM.INFO.KV_passerelle-ledger"`, false, func(ctx context.Context, c *client) error {
			_, err := c.js.KeyValue(ctx, runtime.BucketLedger)
			return err
		}},
		{"get a ledger key", `publish to "$JS.API.DIRECT.GET.KV_passerelle-ledger.$KV.passerelle-ledger.`, false, func(ctx context.Context, c *client) error {
			_, err := c.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET.KV_passerelle-ledger.$KV.passerelle-ledger.invoice.demo.F-ACL-1", nil)
			return err
		}},
		subscribeDenial("listen to the ledger's writes", "$KV.passerelle-ledger.>"),
		subscribeDenial("listen to the other users' inboxes", "_INBOX.>"),
		{"read the ledger's history", `publish to "$JS.API.CONSUMER.CREATE.KV_passerelle-ledger.`, false, func(ctx context.Context, c *client) error {
			_, err := c.js.OrderedConsumer(ctx, "KV_"+runtime.BucketLedger, jetstream.OrderedConsumerConfig{})
			return err
		}},
		{"purge the documents", `publish to "$JS.API.STREAM.PURGE.OBJ_passerelle-documents"`, false, func(ctx context.Context, c *client) error {
			_, err := c.nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE.OBJ_passerelle-documents", nil)
			return err
		}},
		{"read the intake stream", `publish to "$JS.API.CONSUMER.CREATE.PASSERELLE_INVOICES.`, false, func(ctx context.Context, c *client) error {
			_, err := c.js.CreateOrUpdateConsumer(ctx, runtime.StreamInvoices, jetstream.ConsumerConfig{Durable: "peek", FilterSubject: events.TypeInvoiceSubmit})
			return err
		}},
	})
}

// denial is an operation a user must not be allowed: the server must report a
// permissions violation containing violation (compared in lower case), and do
// must fail unless the refusal is only asynchronous (a core publish or
// subscription).
type denial struct {
	name      string
	violation string
	async     bool
	do        func(ctx context.Context, c *client) error
}

func publishDenial(name, subject string) denial {
	return denial{name, fmt.Sprintf("publish to %q", subject), true, func(_ context.Context, c *client) error {
		if err := c.nc.Publish(subject, []byte(`{}`)); err != nil {
			return err
		}
		return c.nc.Flush()
	}}
}

func subscribeDenial(name, subject string) denial {
	return denial{name, fmt.Sprintf("subscription to %q", subject), true, func(_ context.Context, c *client) error {
		if _, err := c.nc.Subscribe(subject, func(*nats.Msg) {}); err != nil {
			return err
		}
		return c.nc.Flush()
	}}
}

func checkDenied(t *testing.T, c *client, denials []denial) {
	t.Helper()
	for _, d := range denials {
		t.Run(d.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := d.do(ctx, c)
			if !c.waitError("permissions violation for "+d.violation, 5*time.Second) {
				t.Fatalf("%s: no permissions violation for %s (the operation returned %v); the connection's errors:\n%s",
					c.user, d.violation, err, strings.Join(c.errors(), "\n"))
			}
			if err == nil && !d.async {
				t.Errorf("%s: the operation succeeded", c.user)
			}
		})
	}
}

// natsServer is a NATS server running nats.conf, with the users' passwords.
type natsServer struct {
	srv       *server.Server
	passwords map[string]string
	log       *serverLog
}

// startServer starts a server from nats.conf (and so nats-accounts.conf), with
// random passwords in the environment, on a random port with its store in a
// temporary directory and no monitoring port.
func startServer(t *testing.T) *natsServer {
	t.Helper()
	ns := &natsServer{passwords: map[string]string{}, log: &serverLog{}}
	for user, v := range passwordVariables() {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		ns.passwords[user] = hex.EncodeToString(b)
		t.Setenv(v, ns.passwords[user])
	}
	opts, err := server.ProcessConfigFile("nats.conf")
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	if !opts.JetStream || !opts.SyncAlways {
		t.Errorf("nats.conf: JetStream %t, sync_interval always %t; want both", opts.JetStream, opts.SyncAlways)
	}
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", server.RANDOM_PORT, 0
	opts.StoreDir = t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("NATS server log:\n%s", strings.Join(ns.log.all(), "\n"))
		}
	})
	ns.srv = natstest.Custom(t, opts, ns.log)
	return ns
}

// client is a connection of one user, recording the errors the server sends it.
type client struct {
	user string
	nc   *nats.Conn
	js   jetstream.JetStream

	mu   sync.Mutex
	errs []string
}

func (ns *natsServer) connect(t *testing.T, user, name string, opts ...nats.Option) *client {
	t.Helper()
	c := &client{user: user}
	opts = append([]nats.Option{
		nats.UserInfo(user, ns.passwords[user]), nats.Name(name),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { c.add(err) }),
	}, opts...)
	nc, err := nats.Connect(ns.srv.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c.nc, c.js = nc, js
	return c
}

func (c *client) add(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err.Error())
}

func (c *client) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// waitError waits until the connection received an error containing text.
func (c *client) waitError(text string, timeout time.Duration) bool {
	text = strings.ToLower(text)
	for deadline := time.Now().Add(timeout); ; {
		for _, e := range c.errors() {
			if strings.Contains(strings.ToLower(e), text) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverLog keeps the server's log lines.
type serverLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *serverLog) add(level, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, v...))
}

func (l *serverLog) Noticef(format string, v ...any) { l.add("[INF]", format, v...) }
func (l *serverLog) Warnf(format string, v ...any)   { l.add("[WRN]", format, v...) }
func (l *serverLog) Fatalf(format string, v ...any)  { l.add("[FTL]", format, v...) }
func (l *serverLog) Errorf(format string, v ...any)  { l.add("[ERR]", format, v...) }
func (l *serverLog) Debugf(format string, v ...any)  { l.add("[DBG]", format, v...) }
func (l *serverLog) Tracef(format string, v ...any)  { l.add("[TRC]", format, v...) }

func (l *serverLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// violations returns the permission violations logged for connections whose
// name contains client ("" for all).
func (l *serverLog) violations(client string) []string {
	var out []string
	for _, line := range l.all() {
		if strings.Contains(line, "Violation") && strings.Contains(line, client) {
			out = append(out, line)
		}
	}
	return out
}

// startService runs passerelle's service as the passerelle user, against the
// administration emulators of a dev stack (whose own NATS server is stopped at
// once: the service uses the server under test only).
func startService(t *testing.T, ns *natsServer) (*service.Service, *devstacktest.SyncBuffer, *client) {
	t.Helper()
	stack, err := devstack.Start(devstack.Config{StoreDir: t.TempDir(), Step: 100 * time.Millisecond,
		PASRAU: pasrautest.Config{MinInterval: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)
	stack.NATS.Shutdown()

	worker := ns.connect(t, "passerelle", "passerelle under test")
	logs := &devstacktest.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	tel, err := telemetry.Setup(ctx, telemetry.Config{LogOutput: logs, LogLevel: "warn"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	reg, err := stack.Accounts(tel)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cfg := devstack.ServiceConfig("127.0.0.1:0")
	cfg.AckWait = 10 * time.Second
	cfg.Invoice.Retry.Budget = 4 * time.Second
	cfg.Declaration.Retry.Budget = 4 * time.Second
	cfg.Declaration.InlineDocumentMax = 1 // every return document goes to the Object Store
	svc, err := service.New(cfg, service.Deps{NATS: worker.nc, Accounts: reg, Telemetry: tel})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready:
	case err := <-done:
		cancel()
		t.Fatalf("passerelle stopped at start: %v\n\nserver's permission violations:\n%s\n\npasserelle's logs:\n%s",
			err, strings.Join(ns.log.violations(""), "\n"), logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("passerelle not ready within 30s\n\nserver's permission violations:\n%s\n\npasserelle's logs:\n%s",
			strings.Join(ns.log.violations(""), "\n"), logs.String())
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("passerelle: %v", err)
		}
	})
	return svc, logs, worker
}

// statusLog records the status and return events a reader received.
type statusLog struct {
	mu     sync.Mutex
	finals map[string]string // submit id -> final state
	// documents are the return documents referenced in the Object Store.
	documents []*events.ObjectRef
	seen      []string
}

func newStatusLog() *statusLog {
	return &statusLog{finals: map[string]string{}}
}

func (s *statusLog) record(ctx context.Context, subject string, h nats.Header, data []byte) {
	e, _, err := events.Decode(ctx, h, data)
	if err != nil {
		return
	}
	var d struct {
		SubmitID string           `json:"submitId"`
		State    string           `json:"state"`
		Final    bool             `json:"final"`
		Document *events.Document `json:"document"`
	}
	_ = json.Unmarshal(e.Data(), &d)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, subject+" "+d.SubmitID+" "+d.State)
	switch {
	case e.Type() == events.TypeDeclarationReturn:
		if d.Document != nil && d.Document.Object != nil {
			s.documents = append(s.documents, d.Document.Object)
		}
	case d.Final:
		s.finals[d.SubmitID] = d.State
	}
}

func (s *statusLog) final(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.finals[id]
	return st, ok
}

func (s *statusLog) document() *events.ObjectRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.documents) == 0 {
		return nil
	}
	return s.documents[0]
}

func (s *statusLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "[" + strings.Join(s.seen, "; ") + "]"
}

// invoiceExample returns the n-th example of the invoice.submit schema.
func invoiceExample(t *testing.T, n int) events.InvoiceSubmit {
	t.Helper()
	exs, err := schemas.ExamplesOf[events.InvoiceSubmit](events.TypeInvoiceSubmit)
	if err != nil {
		t.Fatal(err)
	}
	return exs[n]
}

// waitFor polls cond until it holds or timeout passes, then fails with what.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what func() string, failed func(string, ...any)) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			failed("not reached within %v: %s", timeout, what())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpGet(ctx context.Context, url string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
