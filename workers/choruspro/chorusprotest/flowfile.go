package chorusprotest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// invoiceDoc is what the emulator reads in a UBL or CII invoice.
type invoiceDoc struct {
	kind       string // "UBL" or "CII"
	numero     string
	date       string // YYYY-MM-DD
	typeCode   string
	currency   string
	buyer      string // recipient identifier (SIRET)
	seller     string // supplier identifier
	service    string // buyer reference: the recipient's service code
	engagement string // order reference: the engagement number
	ht, tva    string
	ttc, due   string
}

// typeFacture maps the document type code: 381 is a credit note.
func (d invoiceDoc) typeFacture() string {
	if d.typeCode == "381" {
		return "AVOIR"
	}
	return "FACTURE"
}

// Limits of flow parsing.
const (
	maxXMLDepth       = 64
	maxArchiveMembers = 100
	maxInflatedBytes  = 4 * maxFileBytes
)

// fields maps element paths (below the root, local names joined by "/") to
// the fields they fill; the first occurrence wins.
func (d *invoiceDoc) fields() map[string]*string {
	switch d.kind {
	case "UBL":
		return map[string]*string{
			"ID":                   &d.numero,
			"IssueDate":            &d.date,
			"InvoiceTypeCode":      &d.typeCode,
			"CreditNoteTypeCode":   &d.typeCode,
			"DocumentCurrencyCode": &d.currency,
			"BuyerReference":       &d.service,
			"OrderReference/ID":    &d.engagement,
			"AccountingCustomerParty/Party/EndpointID":                 &d.buyer,
			"AccountingCustomerParty/Party/PartyIdentification/ID":     &d.buyer,
			"AccountingCustomerParty/Party/PartyLegalEntity/CompanyID": &d.buyer,
			"AccountingSupplierParty/Party/EndpointID":                 &d.seller,
			"AccountingSupplierParty/Party/PartyIdentification/ID":     &d.seller,
			"AccountingSupplierParty/Party/PartyLegalEntity/CompanyID": &d.seller,
			"TaxTotal/TaxAmount":                    &d.tva,
			"LegalMonetaryTotal/TaxExclusiveAmount": &d.ht,
			"LegalMonetaryTotal/TaxInclusiveAmount": &d.ttc,
			"LegalMonetaryTotal/PayableAmount":      &d.due,
		}
	case "CII":
		const agreement = "SupplyChainTradeTransaction/ApplicableHeaderTradeAgreement/"
		const settlement = "SupplyChainTradeTransaction/ApplicableHeaderTradeSettlement/"
		const sums = settlement + "SpecifiedTradeSettlementHeaderMonetarySummation/"
		return map[string]*string{
			"ExchangedDocument/ID":                                       &d.numero,
			"ExchangedDocument/TypeCode":                                 &d.typeCode,
			"ExchangedDocument/IssueDateTime/DateTimeString":             &d.date,
			agreement + "BuyerReference":                                 &d.service,
			agreement + "BuyerOrderReferencedDocument/IssuerAssignedID":  &d.engagement,
			agreement + "BuyerTradeParty/SpecifiedLegalOrganization/ID":  &d.buyer,
			agreement + "BuyerTradeParty/GlobalID":                       &d.buyer,
			agreement + "BuyerTradeParty/ID":                             &d.buyer,
			agreement + "SellerTradeParty/SpecifiedLegalOrganization/ID": &d.seller,
			agreement + "SellerTradeParty/GlobalID":                      &d.seller,
			agreement + "SellerTradeParty/ID":                            &d.seller,
			settlement + "InvoiceCurrencyCode":                           &d.currency,
			sums + "TaxBasisTotalAmount":                                 &d.ht,
			sums + "TaxTotalAmount":                                      &d.tva,
			sums + "GrandTotalAmount":                                    &d.ttc,
			sums + "DuePayableAmount":                                    &d.due,
		}
	}
	return nil
}

// parseInvoiceXML reads a UBL (root Invoice or CreditNote) or CII (root
// CrossIndustryInvoice) invoice. It fails on malformed XML, another root, or
// a missing invoice number.
func parseInvoiceXML(data []byte) (invoiceDoc, error) {
	var d invoiceDoc
	var fields map[string]*string
	var stack []string
	var text strings.Builder
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d, fmt.Errorf("XML mal formé : %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			text.Reset()
			if len(stack) > maxXMLDepth {
				return d, errors.New("XML trop profond")
			}
			if len(stack) == 1 {
				switch t.Name.Local {
				case "Invoice", "CreditNote":
					d.kind = "UBL"
				case "CrossIndustryInvoice":
					d.kind = "CII"
				default:
					return d, fmt.Errorf("élément racine %q inconnu (Invoice, CreditNote ou CrossIndustryInvoice attendu)", t.Name.Local)
				}
				fields = d.fields()
			}
		case xml.CharData:
			if text.Len() < 4096 {
				text.Write(t)
			}
		case xml.EndElement:
			if len(stack) > 1 {
				if dst := fields[strings.Join(stack[1:], "/")]; dst != nil && *dst == "" {
					*dst = strings.TrimSpace(text.String())
				}
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		}
	}
	if d.kind == "" {
		return d, errors.New("document XML vide")
	}
	if d.numero == "" {
		return d, errors.New("numéro de facture introuvable dans le document")
	}
	if d.kind == "CII" && len(d.date) == 8 { // format 102: AAAAMMJJ
		d.date = d.date[:4] + "-" + d.date[4:6] + "-" + d.date[6:]
	}
	return d, nil
}

// embeddedCII finds a CII invoice among a PDF's streams (a Factur-X PDF
// embeds it as a file, usually Flate-compressed). It reports false when none
// is found.
func embeddedCII(pdf []byte) ([]byte, bool) {
	rest := pdf
	for range 100000 {
		i := bytes.Index(rest, []byte("stream"))
		if i < 0 {
			return nil, false
		}
		if i >= 3 && string(rest[i-3:i]) == "end" {
			rest = rest[i+len("stream"):]
			continue
		}
		start := i + len("stream")
		if start < len(rest) && rest[start] == '\r' {
			start++
		}
		if start < len(rest) && rest[start] == '\n' {
			start++
		}
		end := bytes.Index(rest[start:], []byte("endstream"))
		if end < 0 {
			return nil, false
		}
		if x := ciiIn(rest[start : start+end]); x != nil {
			return x, true
		}
		rest = rest[start+end+len("endstream"):]
	}
	return nil, false
}

// ciiIn returns the stream's content, inflated if need be, when it is a CII
// invoice.
func ciiIn(stream []byte) []byte {
	isCII := func(b []byte) bool {
		return bytes.Contains(b, []byte(":CrossIndustryInvoice")) || bytes.Contains(b, []byte("<CrossIndustryInvoice"))
	}
	if isCII(stream) {
		return stream
	}
	zr, err := zlib.NewReader(bytes.NewReader(stream))
	if err != nil {
		return nil
	}
	defer zr.Close()
	out, _ := io.ReadAll(io.LimitReader(zr, maxFileBytes)) // a truncated stream may still hold the XML
	if isCII(out) {
		return out
	}
	return nil
}

// flowError is a technical error rejecting a whole flow.
type flowError struct {
	code    string
	libelle string
}

// syntaxKinds says which documents a syntaxeFlux carries: "UBL", "CII"
// (XML), "FACTURX" (PDF with embedded CII) or "ANY" (UBL or CII XML).
func syntaxKinds() map[string]string {
	return map[string]string{
		"IN_DP_E1_UBL_INVOICE":     "UBL",
		"IN_DP_E2_UBL_INVOICE_MIN": "UBL",
		"IN_DP_E3_UBL_INVOICE":     "UBL",
		"IN_DP_E1_CII_16B":         "CII",
		"IN_DP_E2_CII_MIN_16B":     "CII",
		"IN_DP_E2_CII_FACTURX":     "FACTURX",
		"IN_DP_E2_CPP_FACTURE_MIN": "ANY",
	}
}

// parseFlow reads the invoices of a flow file: one XML or PDF document, or a
// .tar.gz or .zip archive of them (at most 100). PDFs in an archive of a
// non-Factur-X syntax are the invoices' visuals and are skipped.
func parseFlow(data []byte, syntaxe string) ([]invoiceDoc, *flowError) {
	want := syntaxKinds()[syntaxe]
	var members []archiveMember
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		m, err := untarGz(data)
		if err != nil {
			return nil, &flowError{"REJ_ARCHIVE", "Archive illisible : " + err.Error()}
		}
		members = m
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		m, err := unzip(data)
		if err != nil {
			return nil, &flowError{"REJ_ARCHIVE", "Archive illisible : " + err.Error()}
		}
		members = m
	default:
		members = []archiveMember{{name: "", data: data}}
	}
	var docs []invoiceDoc
	for _, m := range members {
		isPDF := bytes.HasPrefix(m.data, []byte("%PDF-"))
		var xmlData []byte
		switch {
		case isPDF && want == "FACTURX":
			x, found := embeddedCII(m.data)
			if !found {
				return nil, &flowError{"REJ_FACTURX", describe(m.name, "aucun XML CII n'est embarqué dans le PDF Factur-X")}
			}
			xmlData = x
		case isPDF && m.name != "":
			continue // the visual of an E2 invoice
		case isPDF:
			return nil, &flowError{"REJ_SYNTAXE", fmt.Sprintf("Un PDF n'est accepté seul que pour la syntaxe IN_DP_E2_CII_FACTURX, pas %s", syntaxe)}
		case want == "FACTURX":
			return nil, &flowError{"REJ_SYNTAXE", describe(m.name, "un PDF Factur-X est attendu pour la syntaxe IN_DP_E2_CII_FACTURX")}
		default:
			xmlData = m.data
		}
		d, err := parseInvoiceXML(xmlData)
		if err != nil {
			return nil, &flowError{"REJ_FORMAT", describe(m.name, err.Error())}
		}
		if (want == "UBL" && d.kind != "UBL") || ((want == "CII" || want == "FACTURX") && d.kind != "CII") {
			return nil, &flowError{"REJ_SYNTAXE", describe(m.name, fmt.Sprintf("le document %s ne correspond pas à la syntaxe %s", d.kind, syntaxe))}
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		return nil, &flowError{"REJ_VIDE", "Le flux ne contient aucune facture"}
	}
	return docs, nil
}

// describe prefixes a message with the archive member it is about.
func describe(member, msg string) string {
	if member == "" {
		return msg
	}
	return member + " : " + msg
}

// archiveMember is one file of an archive.
type archiveMember struct {
	name string
	data []byte
}

// keepMember reports whether an archive member is a document to read.
func keepMember(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	return (ext == ".xml" || ext == ".pdf") && !strings.HasPrefix(path.Base(name), ".")
}

// untarGz reads the XML and PDF files of a .tar.gz, within the limits.
func untarGz(data []byte) ([]archiveMember, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	tr := tar.NewReader(io.LimitReader(zr, maxInflatedBytes))
	var out []archiveMember
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || !keepMember(h.Name) {
			continue
		}
		if len(out) == maxArchiveMembers {
			return nil, fmt.Errorf("plus de %d fichiers", maxArchiveMembers)
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxFileBytes+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxFileBytes {
			return nil, fmt.Errorf("%s dépasse 10 Mo", h.Name)
		}
		out = append(out, archiveMember{h.Name, b})
	}
}

// unzip reads the XML and PDF files of a .zip, within the limits.
func unzip(data []byte) ([]archiveMember, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var out []archiveMember
	total := 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !keepMember(f.Name) {
			continue
		}
		if len(out) == maxArchiveMembers {
			return nil, fmt.Errorf("plus de %d fichiers", maxArchiveMembers)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxFileBytes+1))
		_ = rc.Close()
		if err != nil {
			return nil, err
		}
		if total += len(b); len(b) > maxFileBytes || total > maxInflatedBytes {
			return nil, fmt.Errorf("%s dépasse la taille maximale", f.Name)
		}
		out = append(out, archiveMember{f.Name, b})
	}
	return out, nil
}
