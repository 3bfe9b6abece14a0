package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

// The baseline is what a competent engineer writes in an afternoon with nothing
// of passerelle: a JetStream pull consumer per subject whose handler decodes the
// event's JSON, makes the same HTTP call to the same emulator (Chorus Pro's
// soumettre; PASRAU's gzipped ISO-8859-1 deposit), publishes one raw status
// message on the status subject, waits for the stream's acknowledgement, and acks.
// No schema, no ledger, no trace, no retry, no follow-up: its throughput is the
// ceiling passerelle is measured against. Its tokens are fetched once before the
// run, its HTTP connections are kept alive, as many as its concurrency.

// baseline is the naive worker.
type baseline struct {
	js          jetstream.JetStream
	http        *http.Client
	chorusURL   string
	pasrauURL   string
	cproToken   string
	cproAccount string
	pasrauToken string
}

// runningBaseline is the baseline running.
type runningBaseline struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nc     *nats.Conn
	errMu  sync.Mutex
	err    error
}

func startBaseline(ctx context.Context, stack *devstack.Stack, sc Scenario) (*runningBaseline, error) {
	nc, err := stack.Connect("baseline")
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b := &baseline{
		js: js,
		http: &http.Client{Transport: &http.Transport{
			MaxIdleConns: 2 * sc.Concurrency, MaxIdleConnsPerHost: 2 * sc.Concurrency,
			IdleConnTimeout: 90 * time.Second, DisableCompression: true,
		}, Timeout: 30 * time.Second},
		chorusURL:   stack.ChorusProURL,
		pasrauURL:   stack.PASRAUURL,
		cproAccount: base64.StdEncoding.EncodeToString([]byte(chorusprotest.SeedLogin + ":" + chorusprotest.SeedPassword)),
	}
	if b.cproToken, err = b.chorusToken(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if b.pasrauToken, err = b.pasrauAuth(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &runningBaseline{cancel: cancel, nc: nc}
	for _, c := range []struct {
		stream, subject string
		handle          func(context.Context, jetstream.Msg) error
	}{
		{"PASSERELLE_INVOICES", "invoice.submit", b.invoice},
		{"PASSERELLE_DECLARATIONS", "declaration.submit", b.declaration},
	} {
		cons, err := js.CreateOrUpdateConsumer(ctx, c.stream, jetstream.ConsumerConfig{
			Durable: "baseline", FilterSubject: c.subject, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: 30 * time.Second, MaxAckPending: max(1000, 2*sc.Concurrency, sc.Window),
		})
		if err != nil {
			cancel()
			nc.Close()
			return nil, fmt.Errorf("bench: baseline consumer: %w", err)
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(sc.Concurrency))
		if err != nil {
			cancel()
			nc.Close()
			return nil, fmt.Errorf("bench: baseline consume: %w", err)
		}
		r.wg.Add(2)
		go func() {
			defer r.wg.Done()
			<-rctx.Done()
			it.Stop()
		}()
		go func() {
			defer r.wg.Done()
			sem := make(chan struct{}, sc.Concurrency)
			var inflight sync.WaitGroup
			defer inflight.Wait()
			for {
				msg, err := it.Next()
				if err != nil {
					return
				}
				sem <- struct{}{}
				inflight.Add(1)
				go func() {
					defer func() { <-sem; inflight.Done() }()
					// Handlers finish what they started when the baseline stops.
					if err := c.handle(context.WithoutCancel(rctx), msg); err != nil {
						r.fail(err)
						_ = msg.Nak()
					}
				}()
			}
		}()
	}
	return r, nil
}

func (r *runningBaseline) fail(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

func (r *runningBaseline) stop() error {
	r.cancel()
	r.wg.Wait()
	r.nc.Close()
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

// baselineInvoice is what the baseline reads of an invoice.submit.
type baselineInvoice struct {
	Account string `json:"account"`
	Invoice struct {
		Number      string `json:"number"`
		Date        string `json:"date"`
		Type        string `json:"type"`
		Currency    string `json:"currency"`
		Framework   string `json:"framework"`
		VATType     string `json:"vatType"`
		PaymentMode string `json:"paymentMode"`
		Comment     string `json:"comment"`
		Recipient   struct {
			SIRET string `json:"siret"`
		} `json:"recipient"`
		Lines []struct {
			Reference   string      `json:"reference"`
			Designation string      `json:"designation"`
			Quantity    json.Number `json:"quantity"`
			Unit        string      `json:"unit"`
			UnitPrice   json.Number `json:"unitPrice"`
			VATRate     json.Number `json:"vatRate"`
		} `json:"lines"`
		VAT []struct {
			Rate   json.Number `json:"rate"`
			Base   json.Number `json:"base"`
			Amount json.Number `json:"amount"`
		} `json:"vat"`
		Totals struct {
			Net     json.Number `json:"net"`
			VAT     json.Number `json:"vat"`
			Gross   json.Number `json:"gross"`
			Payable json.Number `json:"payable"`
		} `json:"totals"`
	} `json:"invoice"`
}

// soumettre is Chorus Pro's soumettre request, as much of it as the load uses.
type soumettre struct {
	ModeDepot            string `json:"modeDepot"`
	NumeroFactureSaisi   string `json:"numeroFactureSaisi"`
	DateFacture          string `json:"dateFacture"`
	IDUtilisateurCourant int64  `json:"idUtilisateurCourant"`
	Commentaire          string `json:"commentaire,omitempty"`
	CadreDeFacturation   struct {
		CodeCadreFacturation string `json:"codeCadreFacturation"`
	} `json:"cadreDeFacturation"`
	Destinataire struct {
		CodeDestinataire string `json:"codeDestinataire"`
	} `json:"destinataire"`
	Fournisseur struct {
		IDFournisseur int64 `json:"idFournisseur"`
	} `json:"fournisseur"`
	References struct {
		DeviseFacture string `json:"deviseFacture,omitempty"`
		TypeFacture   string `json:"typeFacture,omitempty"`
		TypeTva       string `json:"typeTva,omitempty"`
		ModePaiement  string `json:"modePaiement,omitempty"`
	} `json:"references"`
	LignePoste   []lignePoste `json:"lignePoste,omitempty"`
	LigneTva     []ligneTva   `json:"ligneTva,omitempty"`
	MontantTotal struct {
		HT     json.Number `json:"montantHtTotal"`
		TVA    json.Number `json:"montantTVA"`
		TTC    json.Number `json:"montantTtcTotal"`
		APayer json.Number `json:"montantAPayer,omitempty"`
	} `json:"montantTotal"`
}

type lignePoste struct {
	Numero            int         `json:"lignePosteNumero"`
	Reference         string      `json:"lignePosteReference,omitempty"`
	Denomination      string      `json:"lignePosteDenomination,omitempty"`
	Quantite          json.Number `json:"lignePosteQuantite,omitempty"`
	Unite             string      `json:"lignePosteUnite,omitempty"`
	MontantUnitaireHT json.Number `json:"lignePosteMontantUnitaireHT,omitempty"`
	TauxTvaManuel     json.Number `json:"lignePosteTauxTvaManuel,omitempty"`
}

type ligneTva struct {
	TauxManuel    json.Number `json:"ligneTvaTauxManuel,omitempty"`
	MontantBaseHt json.Number `json:"ligneTvaMontantBaseHtParTaux,omitempty"`
	MontantTva    json.Number `json:"ligneTvaMontantTvaParTaux,omitempty"`
}

// invoice submits one invoice to Chorus Pro.
func (b *baseline) invoice(ctx context.Context, msg jetstream.Msg) error {
	id := msg.Headers().Get("ce-id")
	var in baselineInvoice
	if err := json.Unmarshal(msg.Data(), &in); err != nil {
		return fmt.Errorf("baseline: decode %s: %w", id, err)
	}
	inv := in.Invoice
	out := soumettre{
		ModeDepot: "SAISIE_API", NumeroFactureSaisi: inv.Number, DateFacture: inv.Date,
		IDUtilisateurCourant: chorusprotest.SeedIDUtilisateurCourant, Commentaire: inv.Comment,
	}
	out.CadreDeFacturation.CodeCadreFacturation = inv.Framework
	out.Destinataire.CodeDestinataire = inv.Recipient.SIRET
	out.Fournisseur.IDFournisseur = chorusprotest.SeedIDFournisseur
	out.References.DeviseFacture, out.References.TypeFacture = inv.Currency, inv.Type
	out.References.TypeTva, out.References.ModePaiement = inv.VATType, inv.PaymentMode
	out.LignePoste = make([]lignePoste, len(inv.Lines))
	for i, l := range inv.Lines {
		out.LignePoste[i] = lignePoste{Numero: i + 1, Reference: l.Reference, Denomination: l.Designation,
			Quantite: l.Quantity, Unite: l.Unit, MontantUnitaireHT: l.UnitPrice, TauxTvaManuel: l.VATRate}
	}
	out.LigneTva = make([]ligneTva, len(inv.VAT))
	for i, v := range inv.VAT {
		out.LigneTva[i] = ligneTva{TauxManuel: v.Rate, MontantBaseHt: v.Base, MontantTva: v.Amount}
	}
	t := inv.Totals
	out.MontantTotal.HT, out.MontantTotal.TVA, out.MontantTotal.TTC, out.MontantTotal.APayer = t.Net, t.VAT, t.Gross, t.Payable
	body, err := json.Marshal(&out)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.chorusURL+"/cpro/factures/v1/soumettre", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	req.Header.Set("Accept", "application/json;charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+b.cproToken)
	req.Header.Set("cpro-account", b.cproAccount)
	answer, err := b.do(req)
	if err != nil {
		return fmt.Errorf("baseline: soumettre %s: %w", inv.Number, err)
	}
	var res struct {
		CodeRetour            int   `json:"codeRetour"`
		IdentifiantFactureCPP int64 `json:"identifiantFactureCPP"`
	}
	if err := json.Unmarshal(answer, &res); err != nil || res.CodeRetour != 0 {
		return fmt.Errorf("baseline: soumettre %s: %s", inv.Number, answer)
	}
	status := fmt.Appendf(nil, `{"submitId":%q,"account":%q,"state":"submitted","final":true,"identifiantFactureCPP":%d}`, id, in.Account, res.IdentifiantFactureCPP)
	return b.answer(ctx, msg, "invoice.status."+in.Account, status)
}

// declaration deposits one declaration on PASRAU.
func (b *baseline) declaration(ctx context.Context, msg jetstream.Msg) error {
	id := msg.Headers().Get("ce-id")
	var in struct {
		Account string `json:"account"`
		File    struct {
			Text string `json:"text"`
		} `json:"file"`
	}
	if err := json.Unmarshal(msg.Data(), &in); err != nil {
		return fmt.Errorf("baseline: decode %s: %w", id, err)
	}
	latin1 := make([]byte, 0, len(in.File.Text))
	for _, r := range in.File.Text {
		if r > 0xFF {
			return fmt.Errorf("baseline: %s is not ISO-8859-1", id)
		}
		latin1 = append(latin1, byte(r)) //nolint:gosec // r <= 0xFF: checked just above
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(latin1); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.pasrauURL+pasrautest.PathDeposit, &gz)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=iso-8859-1")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Authorization", "PASRAULogin jeton="+b.pasrauToken)
	req.Header.Set("User-Agent", "baseline/1.0")
	answer, err := b.do(req)
	if err != nil {
		return fmt.Errorf("baseline: deposit %s: %w", id, err)
	}
	idflux, err := xmlText(answer, "idflux")
	if err != nil {
		return fmt.Errorf("baseline: deposit %s: %w", id, err)
	}
	status := fmt.Appendf(nil, `{"submitId":%q,"account":%q,"state":"deposited","final":true,"idflux":%q}`, id, in.Account, idflux)
	return b.answer(ctx, msg, "declaration.status."+in.Account, status)
}

// answer publishes the raw status, waits for the stream, and acks.
func (b *baseline) answer(ctx context.Context, msg jetstream.Msg, subject string, status []byte) error {
	if _, err := b.js.Publish(ctx, subject, status); err != nil {
		return fmt.Errorf("baseline: publish: %w", err)
	}
	return msg.Ack()
}

// do sends req and returns the body of a 200 answer, gunzipped if need be.
func (b *baseline) do(req *http.Request) ([]byte, error) {
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var rd io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, err
		}
		rd = zr
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	return body, nil
}

// xmlText returns the text of the first element named name.
func xmlText(doc []byte, name string) (string, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("no <%s> in the answer: %w", name, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == name {
			var s string
			if err := dec.DecodeElement(&s, &se); err != nil {
				return "", err
			}
			return s, nil
		}
	}
}

// chorusToken fetches a PISTE token for the emulator's seed application.
func (b *baseline) chorusToken(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {chorusprotest.SeedClientID},
		"client_secret": {chorusprotest.SeedClientSecret}, "scope": {"openid"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.chorusURL+"/api/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	body, err := b.do(req)
	if err != nil {
		return "", fmt.Errorf("bench: baseline token: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", errors.New("bench: baseline token: no access_token")
	}
	return tok.AccessToken, nil
}

// pasrauAuth authenticates the emulator's demo declarant.
func (b *baseline) pasrauAuth(ctx context.Context) (string, error) {
	d := pasrautest.DemoDeclarant()
	body := fmt.Sprintf("<identifiants><siret>%s</siret><nom>%s</nom><prenom>%s</prenom><motdepasse>%s</motdepasse><service>80</service></identifiants>",
		d.SIRET, d.Nom, d.Prenom, d.MotDePasse)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.pasrauURL+pasrautest.PathAuth, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/xml; charset=UTF-8")
	tok, err := b.do(req)
	if err != nil {
		return "", fmt.Errorf("bench: baseline PASRAU authentication: %w", err)
	}
	return strings.TrimSpace(string(tok)), nil
}
