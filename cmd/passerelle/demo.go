package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
)

// demoInvoices returns sample invoice.submit data: the schema's examples (a
// structured invoice and a PDF one), a flow (CII) and one that Chorus Pro rejects
// (its totals do not add up), numbered from prefix so that each run is new.
func demoInvoices(prefix string) ([]events.InvoiceSubmit, error) {
	examples, err := schemas.Examples(events.TypeInvoiceSubmit)
	if err != nil {
		return nil, err
	}
	var out []events.InvoiceSubmit
	for _, raw := range examples {
		var s events.InvoiceSubmit
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
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

// publishDemo publishes the sample submissions.
func publishDemo(ctx context.Context, js jetstream.JetStream, e env) error {
	prefix := "D" + time.Now().UTC().Format("060102150405")
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
	return nil
}
