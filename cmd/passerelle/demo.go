package main

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
)

// demoInvoices returns sample invoice.submit data: the schema's examples (a
// structured invoice and a PDF one), a flow (CII) and one that Chorus Pro rejects
// (its totals do not add up), numbered from prefix so that each run is new.
func demoInvoices(prefix string) ([]events.InvoiceSubmit, error) {
	out, err := schemas.ExamplesOf[events.InvoiceSubmit](events.TypeInvoiceSubmit)
	if err != nil {
		return nil, err
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("demo: the invoice.submit schema has %d examples, want 2", len(out))
	}
	structured, pdf := out[0], out[1]
	structured.Invoice.Number = prefix + "-S"
	pdf.Invoice.Number = prefix + "-P"
	pdf.Document.FileName = prefix + "-P.pdf"
	flow := events.InvoiceSubmit{
		Account: structured.Account, Mode: events.ModeFlow, FlowSyntax: "IN_DP_E1_CII_16B",
		Invoice:  events.Invoice{Number: prefix + "-F"},
		Document: &events.Document{FileName: prefix + "-F.xml", ContentType: "application/xml", Content: base64.StdEncoding.EncodeToString(ciiInvoice(prefix+"-F", structured.Invoice.Recipient.SIRET))},
	}
	rejected := structured
	rejected.Invoice.Number = prefix + "-R"
	totals := *structured.Invoice.Totals
	totals.Gross = "1300.00" // net 1000 + VAT 200 is not 1300: Chorus Pro refuses it
	totals.Payable = "1300.00"
	rejected.Invoice.Totals = &totals
	return []events.InvoiceSubmit{structured, pdf, flow, rejected}, nil
}

// ciiInvoice is a minimal UN/CEFACT CII invoice.
func ciiInvoice(number, buyerSIRET string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn:cen.eu:en16931:2017</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument><ram:ID>%s</ram:ID><ram:TypeCode>380</ram:TypeCode><ram:IssueDateTime><udt:DateTimeString format="102">20261120</udt:DateTimeString></ram:IssueDateTime></rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:ApplicableHeaderTradeAgreement>
      <ram:SellerTradeParty><ram:Name>PASSERELLE DEMO SAS</ram:Name></ram:SellerTradeParty>
      <ram:BuyerTradeParty><ram:Name>Acheteur public</ram:Name><ram:SpecifiedLegalOrganization><ram:ID schemeID="0002">%s</ram:ID></ram:SpecifiedLegalOrganization></ram:BuyerTradeParty>
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:TaxBasisTotalAmount>500.00</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">100.00</ram:TaxTotalAmount>
        <ram:GrandTotalAmount>600.00</ram:GrandTotalAmount>
        <ram:DuePayableAmount>600.00</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
`, number, buyerSIRET)
}

// guideSample is the sample declaration of the PASRAU implementation guide (3.2.1),
// as printed: its stray quote on S21.G00.20.007 (line 48) makes it invalid.
//
//go:embed demo/guide-sample.txt
var guideSample string

// demoDeclarations returns sample declaration.submit data: the schema's example
// (valid: deposited, then its returns arrive), the guide's sample (invalid: never
// deposited) and a valid file that the PASRAU emulator rejects with an avis de
// rejet (its contact name carries the emulator's ARE-KO trigger). The month's year
// moves with the clock so that each run is a new declaration.
func demoDeclarations(now time.Time) ([]events.DeclarationSubmit, error) {
	examples, err := schemas.Examples(events.TypeDeclarationSubmit)
	if err != nil {
		return nil, err
	}
	if len(examples) == 0 {
		return nil, fmt.Errorf("demo: the declaration.submit schema has no example")
	}
	var valid events.DeclarationSubmit
	if err := json.Unmarshal(examples[0], &valid); err != nil {
		return nil, err
	}
	year := 2001 + now.Unix()/60%90
	valid.File.Text = strings.Replace(valid.File.Text, "S20.G00.05.005,'01112026'", fmt.Sprintf("S20.G00.05.005,'0111%d'", year), 1)
	rejected := valid
	rejected.File.FileName = "pasrau-are-ko.txt"
	rejected.File.Text = strings.Replace(valid.File.Text, "S10.G00.02.002,'Test PASRAU'", "S10.G00.02.002,'Test PASRAU ARE-KO'", 1)
	rejected.File.Text = strings.Replace(rejected.File.Text, "S20.G00.05.003,'1'", "S20.G00.05.003,'2'", 1)
	invalid := events.DeclarationSubmit{Account: valid.Account, File: events.DeclarationFile{FileName: "guide-sample.txt", Encoding: events.EncodingUTF8, Text: guideSample}}
	return []events.DeclarationSubmit{valid, invalid, rejected}, nil
}

// publishDemo publishes the sample submissions.
func publishDemo(ctx context.Context, js jetstream.JetStream, e env) error {
	now := time.Now()
	prefix := "D" + now.UTC().Format("060102150405")
	invoices, err := demoInvoices(prefix)
	if err != nil {
		return err
	}
	pub := events.NewPublisher(js)
	for _, inv := range invoices {
		ev, err := events.NewInvoiceSubmit("", inv)
		if err != nil {
			return err
		}
		if _, err := pub.Publish(ctx, events.TypeInvoiceSubmit, ev); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "published invoice.submit %s (%s, %s)\n", ev.ID(), inv.Mode, inv.Invoice.Number)
	}
	decls, err := demoDeclarations(now)
	if err != nil {
		return err
	}
	for _, d := range decls {
		ev, err := events.NewDeclarationSubmit("", d)
		if err != nil {
			return err
		}
		if _, err := pub.Publish(ctx, events.TypeDeclarationSubmit, ev); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "published declaration.submit %s (%s)\n", ev.ID(), d.File.FileName)
	}
	return nil
}
