package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublishErrors checks that publish refuses a wrong command line before it
// reaches NATS (none listens on the address given), saying what to do.
func TestPublishErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pdf := write("F-1.pdf", minimalPDF)
	notPDF := write("F-2.pdf", "hello")
	longName := write(strings.Repeat("x", 60)+".pdf", minimalPDF)
	ubl := write("F-3.xml", `<?xml version="1.0"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><ID>F-3</ID></Invoice>`)
	zip := write("F-4.zip", "PK\x03\x04rest")
	latin1 := write("pasrau.txt", "S10.G00.01.009,'Derri\xe8re'\n")
	data := write("invoice.json", `{"account":"demo","mode":"structured","invoice":{"number":"F-5"}}`)
	pdfArgs := func(extra ...string) []string {
		return append([]string{"--account", "demo", "--pdf", pdf, "--number", "F-1", "--recipient", "11000003100010"}, extra...)
	}

	tests := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"nothing to publish", nil, "give exactly one DATA.json file, or --pdf, --flow or --declaration FILE", true},
		{"two sources", []string{"--account", "demo", "--pdf", pdf, "--declaration", latin1}, "give one of --pdf, --flow and --declaration, not --pdf and --declaration", true},
		{"a source and DATA.json", []string{"--account", "demo", "--pdf", pdf, data}, "--pdf builds the event's data: drop " + data, true},
		{"no account", []string{"--pdf", pdf}, "--pdf needs --account", true},
		{"bad account", []string{"--account", "a.b", "--declaration", latin1}, `--account "a.b" is not an account name`, true},
		{"a flag of another source", pdfArgs("--syntax", "IN_DP_E1_UBL_INVOICE"), "--syntax goes with --flow, not with --pdf", true},
		{"an invoice flag with DATA.json", []string{"--recipient", "11000003100010", data}, "--recipient goes with --pdf, not with DATA.json", true},
		{"pdf without number", []string{"--account", "demo", "--pdf", pdf, "--recipient", "11000003100010"}, "--pdf needs --number", true},
		{"pdf without totals", pdfArgs(), "two of --net, --vat and --total", true},
		{"pdf with one total", pdfArgs("--total", "120"), "two of --net, --vat and --total", true},
		{"totals that do not add up", pdfArgs("--net", "100", "--vat", "20", "--total", "130"), "--net 100.00 + --vat 20.00 is 120.00, not --total 130.00", true},
		{"a comma", pdfArgs("--total", "120,00", "--vat", "20"), "the decimal separator is a dot", true},
		{"three decimals", pdfArgs("--total", "120.001", "--vat", "20"), "at most two decimals", true},
		{"not a SIRET", []string{"--account", "demo", "--pdf", pdf, "--number", "F-1", "--recipient", "1100", "--total", "1", "--vat", "0"}, `--recipient "1100" is not a SIRET`, true},
		{"not a date", pdfArgs("--total", "1", "--vat", "0", "--date", "20/11/2026"), `--date "20/11/2026" is not a date YYYY-MM-DD`, true},
		{"not a PDF", []string{"--account", "demo", "--pdf", notPDF, "--number", "F-2", "--recipient", "11000003100010", "--total", "1", "--vat", "0"}, "not a PDF", false},
		{"a name too long", []string{"--account", "demo", "--pdf", longName, "--number", "F-2", "--recipient", "11000003100010", "--total", "1", "--vat", "0"}, "rename the file (at most 50 characters", false},
		{"a flow syntax that does not fit", []string{"--account", "demo", "--flow", ubl, "--syntax", "IN_DP_E1_CII_16B"}, `--syntax "IN_DP_E1_CII_16B" does not fit ` + ubl + ", a UBL file: give one of IN_DP_E1_UBL_INVOICE", true},
		{"another invoice number", []string{"--account", "demo", "--flow", ubl, "--number", "F-9"}, `holds invoice "F-3", not --number "F-9"`, true},
		{"an archive without syntax", []string{"--account", "demo", "--flow", zip, "--number", "F-4"}, "is an archive: give --syntax", true},
		{"an archive without number", []string{"--account", "demo", "--flow", zip, "--syntax", "IN_DP_E1_UBL_INVOICE"}, "no invoice number found in " + zip + ": give --number", true},
		{"a Latin-1 file said UTF-8", []string{"--account", "demo", "--declaration", latin1, "--encoding", "UTF-8"}, "is not valid UTF-8: give --encoding ISO-8859-1", true},
		{"an unknown encoding", []string{"--account", "demo", "--declaration", latin1, "--encoding", "EBCDIC"}, `--encoding "EBCDIC" is not UTF-8, ISO-8859-1 or auto`, true},
		{"a bad traceparent", []string{"--traceparent", "nope", data}, `--traceparent "nope" is not a W3C traceparent`, true},
		{"a bad type", []string{"--type", "invoice.status", data}, `--type "invoice.status" is not invoice.submit or declaration.submit`, true},
		{"data breaking its schema", []string{data}, "nothing published: passerelle would reject this invoice.submit:\n  at /invoice: missing properties", false},
		{"pdf data breaking its schema", pdfArgs("--total", "1", "--vat", "0", "--number", strings.Repeat("9", 21)), "at /invoice/number: maxLength: got 21, want 20 (fix --number)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			args := append([]string{"publish", "--nats", "nats://127.0.0.1:1"}, tt.args...)
			err := run(context.Background(), args, envOf(nil), nil, &out, io.Discard)
			var ue *usageError
			switch {
			case err == nil:
				t.Fatalf("publish %q succeeded:\n%s", tt.args, out.String())
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("publish %q: %v\nwant an error containing %q", tt.args, err, tt.want)
			case errors.As(err, &ue) != tt.usage:
				t.Errorf("publish %q: %v is a usage error: %t, want %t", tt.args, err, !tt.usage, tt.usage)
			}
		})
	}
}

func TestReadFlowFile(t *testing.T) {
	t.Parallel()
	var flate bytes.Buffer
	zw := zlib.NewWriter(&flate)
	if _, err := zw.Write(ciiInvoice("FX-1", "11000003100010")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		content    string
		kind, want string
		err        string
	}{
		{"UBL invoice", `<?xml version="1.0"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cbc="urn:cbc"><cbc:UBLVersionID>2.1</cbc:UBLVersionID><cac:AccountingSupplierParty xmlns:cac="urn:cac"><cbc:ID>SUPPLIER</cbc:ID></cac:AccountingSupplierParty><cbc:ID> F-UBL-1 </cbc:ID></Invoice>`, "UBL", "F-UBL-1", ""},
		{"UBL credit note", `<CreditNote><ID>AV-1</ID></CreditNote>`, "UBL", "AV-1", ""},
		{"CII invoice", string(ciiInvoice("F-CII-1", "11000003100010")), "CII", "F-CII-1", ""},
		{"Factur-X, Flate stream", "%PDF-1.7\n1 0 obj\n<< /Filter /FlateDecode >>\nstream\r\n" + flate.String() + "\nendstream\nendobj\n%%EOF", "PDF", "FX-1", ""},
		{"Factur-X, raw stream", "%PDF-1.7\n1 0 obj\n<< >>\nstream\n" + string(ciiInvoice("FX-2", "11000003100010")) + "\nendstream\nendobj\n%%EOF", "PDF", "FX-2", ""},
		{"PDF without invoice", minimalPDF, "PDF", "", ""},
		{"zip archive", "PK\x03\x04...", "archive", "", ""},
		{"gzip archive", "\x1f\x8b...", "archive", "", ""},
		{"UBL without number", `<Invoice><IssueDate>2026-11-20</IssueDate></Invoice>`, "UBL", "", ""},
		{"another XML", `<Order><ID>1</ID></Order>`, "", "", "the root element is Order"},
		{"malformed XML", `<Invoice><ID>1</Invoice>`, "", "", "not well-formed XML"},
		{"no XML", `   `, "", "", "no XML element"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kind, number, err := readFlowFile([]byte(tt.content))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("readFlowFile = %q, %q, %v; want an error containing %q", kind, number, err, tt.err)
				}
				return
			}
			if err != nil || kind != tt.kind || number != tt.want {
				t.Errorf("readFlowFile = %q, %q, %v; want %q, %q", kind, number, err, tt.kind, tt.want)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"0": "0.00", "120": "120.00", "120.5": "120.50", "120.05": "120.05", "-3.1": "-3.10", "1234567890123.99": "1234567890123.99"} {
		cents, err := parseAmount(in)
		if err != nil || formatAmount(cents) != want {
			t.Errorf("parseAmount(%q) = %d (%s), %v; want %s", in, cents, formatAmount(cents), err, want)
		}
	}
	for _, in := range []string{"", "1,5", "1.234", "1e3", ".5", "12 000", "+1", "--1", "12345678901234"} {
		if cents, err := parseAmount(in); err == nil {
			t.Errorf("parseAmount(%q) = %d, want an error", in, cents)
		}
	}
}
