package pasrau_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

// readTestdata returns a file of testdata.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading testdata: %v", err)
	}
	return b
}

// validLines returns the lines of testdata/valid-declaration.txt.
func validLines(t testing.TB) []string {
	t.Helper()
	return strings.Split(strings.TrimSuffix(string(readTestdata(t, "valid-declaration.txt")), "\n"), "\n")
}

// edit returns the valid declaration with line n (1-based) replaced by each
// replacement (none: the line is removed), LF-terminated.
func edit(t testing.TB, edits map[int][]string) []byte {
	t.Helper()
	var out []string
	for i, l := range validLines(t) {
		if repl, ok := edits[i+1]; ok {
			out = append(out, repl...)
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// one builds an edit map replacing one line.
func one(n int, line string) map[int][]string { return map[int][]string{n: {line}} }

// problem is the part of a pasrau.Problem a test checks.
type problem struct {
	line   int
	rubric string
	code   pasrau.ProblemCode
}

func summarize(ps pasrau.Problems) []problem {
	out := make([]problem, 0, len(ps))
	for _, p := range ps {
		out = append(out, problem{p.Line, p.Rubric, p.Code})
	}
	return out
}

// Line numbers in the valid declaration (and the guide's sample): 4
// S10.G00.00.005, 7-8 sender SIREN/NIC, 14-15 free address lines, 20
// S20.G00.05.001, 24 S20.G00.05.005, 31-32 company SIREN/NIC, 37 establishment
// NIC, 46-48 payment amount and period, 55 birth date, 66 payment date, 68
// rate, 72 S21.G00.56.001, 75 rate, 77-78 S90.
func TestValidateDefects(t *testing.T) {
	t.Parallel()
	latin1 := func(s string) []byte {
		b, err := pasrau.ToLatin1([]byte(s), pasrau.UTF8)
		if err != nil {
			t.Fatalf("ToLatin1: %v", err)
		}
		return b
	}
	cp1252 := bytes.Replace(latin1(string(edit(t, one(15, "S10.G00.01.010,'10 EUR'")))), []byte("10 EUR"), []byte("10 \x80"), 1)
	crlf := bytes.ReplaceAll(readTestdata(t, "valid-declaration.txt"), []byte("\n"), []byte("\r\n"))
	tests := []struct {
		name string
		file []byte
		enc  pasrau.Encoding
		want []problem
	}{
		{"valid UTF-8", readTestdata(t, "valid-declaration.txt"), pasrau.UTF8, nil},
		{"valid ISO-8859-1", latin1(string(readTestdata(t, "valid-declaration.txt"))), pasrau.Latin1, nil},
		{"CRLF line ends", crlf, pasrau.UTF8, nil},
		{"UTF-8 byte order mark", append([]byte("\xEF\xBB\xBF"), readTestdata(t, "valid-declaration.txt")...), pasrau.UTF8, nil},
		{"no final line end", bytes.TrimSuffix(readTestdata(t, "valid-declaration.txt"), []byte("\n")), pasrau.UTF8, nil},
		{"apostrophe inside a value", edit(t, one(51, "S21.G00.30.002,'N'DIAYE'")), pasrau.UTF8, nil},
		{"guide's sample", readTestdata(t, "guide-sample.txt"), pasrau.UTF8, []problem{
			{46, "S21.G00.20.005", pasrau.ProblemAmount},
			{48, "S21.G00.20.007", pasrau.ProblemSyntax},
			{68, "S21.G00.50.006", pasrau.ProblemAmount},
			{75, "S21.G00.56.005", pasrau.ProblemAmount},
			{77, "S90.G00.90.001", pasrau.ProblemTotals},
		}},
		{"empty file", nil, pasrau.UTF8, []problem{{0, "", pasrau.ProblemEmpty}}},
		{"stray quote at the start", edit(t, one(14, "S10.G00.01.009,''Derrière'")), pasrau.UTF8, []problem{{14, "S10.G00.01.009", pasrau.ProblemSyntax}}},
		{"stray quote at the end", edit(t, one(14, "S10.G00.01.009,'Derrière''")), pasrau.UTF8, []problem{{14, "S10.G00.01.009", pasrau.ProblemSyntax}}},
		{"space before the comma", edit(t, one(14, "S10.G00.01.009 ,'Derrière'")), pasrau.UTF8, []problem{{14, "S10.G00.01.009", pasrau.ProblemSyntax}}},
		{"space after the comma", edit(t, one(14, "S10.G00.01.009, 'Derrière'")), pasrau.UTF8, []problem{{14, "S10.G00.01.009", pasrau.ProblemSyntax}}},
		{"space after the closing quote", edit(t, one(14, "S10.G00.01.009,'Derrière' ")), pasrau.UTF8, []problem{{14, "S10.G00.01.009", pasrau.ProblemSyntax}}},
		{"no closing quote", edit(t, one(14, "S10.G00.01.009,'Derrière")), pasrau.UTF8, []problem{{14, "S10.G00.01.009", pasrau.ProblemSyntax}}},
		{"no quotes", edit(t, one(14, "S10.G00.01.009,Derrière")), pasrau.UTF8, []problem{{14, "S10.G00.01.009", pasrau.ProblemSyntax}}},
		{"empty value", edit(t, one(14, "S10.G00.01.009,''")), pasrau.UTF8, []problem{{14, "S10.G00.01.009", pasrau.ProblemSyntax}}},
		{"no value", edit(t, one(14, "S10.G00.01.009")), pasrau.UTF8, []problem{{14, "S10.G00.01.009", pasrau.ProblemSyntax}}},
		{"malformed rubric name", edit(t, one(14, "S10.G0.01.009,'Derrière'")), pasrau.UTF8, []problem{{14, "", pasrau.ProblemSyntax}}},
		{"empty line", edit(t, one(14, "")), pasrau.UTF8, []problem{{14, "", pasrau.ProblemSyntax}}},
		{"first line not S10", edit(t, one(1, "X10.G00.00.001,'superpaie'")), pasrau.UTF8, []problem{
			{1, "", pasrau.ProblemFirstLine}, {1, "", pasrau.ProblemSyntax},
		}},
		{"S10 rubric among S21", edit(t, one(60, "S10.G00.01.010,'Encore'")), pasrau.UTF8, []problem{
			{60, "S10.G00.01.010", pasrau.ProblemBlockOrder}, {61, "S21.G00.30.015", pasrau.ProblemBlockOrder},
		}},
		{"unknown block", edit(t, one(60, "S30.G00.30.014,'75'")), pasrau.UTF8, []problem{{60, "S30.G00.30.014", pasrau.ProblemBlockOrder}}},
		{"two declarations", edit(t, one(60, "S20.G00.05.001,'11'")), pasrau.UTF8, []problem{
			{60, "S20.G00.05.001", pasrau.ProblemDeclarationCount}, {78, "S90.G00.90.002", pasrau.ProblemTotals},
		}},
		{"no declaration", edit(t, one(20, "S20.G00.05.099,'11'")), pasrau.UTF8, []problem{
			{0, "S20.G00.05.001", pasrau.ProblemDeclarationCount}, {78, "S90.G00.90.002", pasrau.ProblemTotals},
		}},
		{"wrong line count", edit(t, one(77, "S90.G00.90.001,'79'")), pasrau.UTF8, []problem{{77, "S90.G00.90.001", pasrau.ProblemTotals}}},
		{"count not a number", edit(t, one(77, "S90.G00.90.001,'7B'")), pasrau.UTF8, []problem{{77, "S90.G00.90.001", pasrau.ProblemValue}}},
		{"no S90 block", edit(t, map[int][]string{77: nil, 78: nil}), pasrau.UTF8, []problem{
			{0, "S90.G00.90.001", pasrau.ProblemMissing}, {0, "S90.G00.90.002", pasrau.ProblemMissing},
		}},
		{"missing month and establishment", edit(t, map[int][]string{24: {"S20.G00.05.099,'x'"}, 37: {"S21.G00.11.099,'x'"}}), pasrau.UTF8, []problem{
			{0, "S20.G00.05.005", pasrau.ProblemMissing}, {0, "S21.G00.11.001", pasrau.ProblemMissing},
		}},
		{"test/real not 01 or 02", edit(t, one(4, "S10.G00.00.005,'03'")), pasrau.UTF8, []problem{{4, "S10.G00.00.005", pasrau.ProblemValue}}},
		{"SIREN of 8 digits", edit(t, one(7, "S10.G00.01.001,'53755096'")), pasrau.UTF8, []problem{{7, "S10.G00.01.001", pasrau.ProblemSIREN}}},
		{"SIREN failing Luhn", edit(t, one(31, "S21.G00.06.001,'537550965'")), pasrau.UTF8, []problem{{31, "S21.G00.06.001", pasrau.ProblemSIREN}}},
		{"NIC of 4 digits", edit(t, one(8, "S10.G00.01.002,'0001'")), pasrau.UTF8, []problem{{8, "S10.G00.01.002", pasrau.ProblemNIC}}},
		{"SIRET failing Luhn", edit(t, one(37, "S21.G00.11.001,'00011'")), pasrau.UTF8, []problem{{37, "S21.G00.11.001", pasrau.ProblemSIRET}}},
		{"La Poste SIRET with digit sum multiple of 5", edit(t, map[int][]string{
			31: {"S21.G00.06.001,'356000000'"}, 32: {"S21.G00.06.002,'00048'"}, 37: {"S21.G00.11.001,'00010'"},
		}), pasrau.UTF8, nil},
		{"La Poste SIRET failing both checks", edit(t, map[int][]string{
			31: {"S21.G00.06.001,'356000000'"}, 32: {"S21.G00.06.002,'00048'"}, 37: {"S21.G00.11.001,'00011'"},
		}), pasrau.UTF8, []problem{{37, "S21.G00.11.001", pasrau.ProblemSIRET}}},
		{"31 February", edit(t, one(47, "S21.G00.20.006,'31022026'")), pasrau.UTF8, []problem{{47, "S21.G00.20.006", pasrau.ProblemDate}}},
		{"29 February of a leap year", edit(t, one(47, "S21.G00.20.006,'29022028'")), pasrau.UTF8, nil},
		{"date of 7 digits", edit(t, one(66, "S21.G00.50.001,'2511202'")), pasrau.UTF8, []problem{{66, "S21.G00.50.001", pasrau.ProblemDate}}},
		{"birth date with unknown day and month", edit(t, one(55, "S21.G00.30.006,'00001988'")), pasrau.UTF8, nil},
		{"birth date with month 13", edit(t, one(55, "S21.G00.30.006,'00131988'")), pasrau.UTF8, []problem{{55, "S21.G00.30.006", pasrau.ProblemDate}}},
		{"month not on the 1st", edit(t, one(24, "S20.G00.05.005,'15112026'")), pasrau.UTF8, []problem{{24, "S20.G00.05.005", pasrau.ProblemDate}}},
		{"MMAAAA month 13", edit(t, one(72, "S21.G00.56.001,'132026'")), pasrau.UTF8, []problem{{72, "S21.G00.56.001", pasrau.ProblemDate}}},
		{"amount with a comma", edit(t, one(46, "S21.G00.20.005,'119,21'")), pasrau.UTF8, []problem{{46, "S21.G00.20.005", pasrau.ProblemAmount}}},
		{"amount with one decimal", edit(t, one(46, "S21.G00.20.005,'119.2'")), pasrau.UTF8, []problem{{46, "S21.G00.20.005", pasrau.ProblemAmount}}},
		{"amount without decimals", edit(t, one(75, "S21.G00.56.005,'-5'")), pasrau.UTF8, []problem{{75, "S21.G00.56.005", pasrau.ProblemAmount}}},
		{"character outside ISO-8859-1", edit(t, one(15, "S10.G00.01.010,'Coût 10 €'")), pasrau.UTF8, []problem{{15, "S10.G00.01.010", pasrau.ProblemEncoding}}},
		{"invalid UTF-8", edit(t, one(15, "S10.G00.01.010,'Encore apr\xe8s'")), pasrau.UTF8, []problem{{15, "S10.G00.01.010", pasrau.ProblemEncoding}}},
		{"tab in a value", edit(t, one(15, "S10.G00.01.010,'Encore\taprès'")), pasrau.UTF8, []problem{{15, "S10.G00.01.010", pasrau.ProblemEncoding}}},
		{"UTF-8 in a file declared ISO-8859-1", readTestdata(t, "valid-declaration.txt"), pasrau.Latin1, []problem{
			{14, "S10.G00.01.009", pasrau.ProblemEncoding}, {15, "S10.G00.01.010", pasrau.ProblemEncoding},
		}},
		{"Windows-1252 byte in a file declared ISO-8859-1", cp1252, pasrau.Latin1, []problem{{15, "S10.G00.01.010", pasrau.ProblemEncoding}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, problems := pasrau.Validate(tt.file, tt.enc)
			got := summarize(problems)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) && (len(got) != 0 || len(tt.want) != 0) {
				t.Errorf("problems:\n got %v\nwant %v\nfull report:\n%s", got, tt.want, report(problems))
			}
			for _, p := range problems {
				if p.Message == "" {
					t.Errorf("problem %v has no message", p)
				}
			}
			if err := problems.Err(); (err != nil) != (len(tt.want) > 0) {
				t.Errorf("Err() = %v, want an error: %v", err, len(tt.want) > 0)
			}
		})
	}
}

func report(ps pasrau.Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func TestValidateGuideSampleStrayQuote(t *testing.T) {
	t.Parallel()
	file := readTestdata(t, "guide-sample.txt")
	lines := strings.Split(string(file), "\n")
	const line = 48 // counting from S10.G00.00.001 as line 1
	if got := lines[line-1]; got != "S21.G00.20.007,'30062018''" {
		t.Fatalf("line %d of the sample is %q, not the stray quote", line, got)
	}
	_, problems := pasrau.Validate(file, pasrau.UTF8)
	for _, p := range problems {
		if p.Line == line {
			if p.Rubric != "S21.G00.20.007" || p.Code != pasrau.ProblemSyntax || !strings.Contains(p.Message, "stray quote") {
				t.Errorf("line %d: got %v, want a syntax problem about a stray quote on S21.G00.20.007", line, p)
			}
			return
		}
	}
	t.Errorf("no problem reported on line %d:\n%s", line, report(problems))
}

func TestValidateDeclaration(t *testing.T) {
	t.Parallel()
	decl, problems := pasrau.Validate(readTestdata(t, "valid-declaration.txt"), pasrau.UTF8)
	if len(problems) != 0 {
		t.Fatalf("valid declaration has problems:\n%s", report(problems))
	}
	want := pasrau.Declaration{
		Identity: pasrau.Identity{
			SIRET: "53755096400010", Month: "2026-11", Nature: "11", Type: "01", Fraction: "1", EssaiReel: pasrau.EssaiReal,
		},
		SIREN: "537550964", SenderSIRET: "53755096400010", NormVersion: "201711",
		Software:     pasrau.Software{Name: "superpaie", Editor: "GENIELOG", Version: "v99"},
		Declarations: 1, Individuals: 1, Lines: 78,
	}
	if *decl != want {
		t.Errorf("declaration:\n got %#v\nwant %#v", *decl, want)
	}
	if decl.IsTest() {
		t.Errorf("IsTest() = true for S10.G00.00.005 = 02")
	}
	sample, _ := pasrau.Validate(readTestdata(t, "guide-sample.txt"), pasrau.UTF8)
	if got, want := sample.Identity.String(), "53755096400010 2018-06 nature 11 type 01 fraction 1 test"; got != want {
		t.Errorf("sample identity = %q, want %q", got, want)
	}
}

func TestValidateUnknownEncoding(t *testing.T) {
	t.Parallel()
	_, problems := pasrau.Validate(readTestdata(t, "valid-declaration.txt"), pasrau.Encoding(9))
	if !problems.Has(pasrau.ProblemEncoding) {
		t.Errorf("problems = %v, want an encoding problem", problems)
	}
}

func TestValidateCapsProblems(t *testing.T) {
	t.Parallel()
	file := bytes.Repeat([]byte("garbage\n"), pasrau.MaxProblems*2)
	_, problems := pasrau.Validate(file, pasrau.UTF8)
	if got := len(problems); got != pasrau.MaxProblems {
		t.Fatalf("len(problems) = %d, want %d", got, pasrau.MaxProblems)
	}
	if last := problems[len(problems)-1]; last.Code != pasrau.ProblemTruncated || !strings.Contains(last.Message, "more problem") {
		t.Errorf("last problem = %v, want a truncation note", last)
	}
	var verr *pasrau.ValidationError
	if err := problems.Err(); !errors.As(err, &verr) || !strings.Contains(err.Error(), "problem(s)") {
		t.Errorf("Err() = %v, want a *ValidationError", err)
	}
}

func TestToLatin1(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		enc      pasrau.Encoding
		want     string
		wantLine int
		wantCol  int
	}{
		{"accents", "S10.G00.01.009,'Derrière'\nS10.G00.01.010,'après'\n", pasrau.UTF8, "S10.G00.01.009,'Derri\xe8re'\nS10.G00.01.010,'apr\xe8s'\n", 0, 0},
		{"byte order mark dropped", "\xEF\xBB\xBFS10.G00.00.001,'é'", pasrau.UTF8, "S10.G00.00.001,'\xe9'", 0, 0},
		{"CRLF kept", "a\r\nb\r\n", pasrau.UTF8, "a\r\nb\r\n", 0, 0},
		{"Latin-1 unchanged", "S10.G00.01.009,'Derri\xe8re'\n", pasrau.Latin1, "S10.G00.01.009,'Derri\xe8re'\n", 0, 0},
		{"euro sign on line 3", "a\nb\nS10.G00.01.010,'10 €'\n", pasrau.UTF8, "", 3, 20},
		{"oe ligature", "S21.G00.30.002,'Cœur'\n", pasrau.UTF8, "", 1, 18},
		{"invalid UTF-8 on line 2", "a\nS10.G00.01.010,'apr\xe8s'\n", pasrau.UTF8, "", 2, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := pasrau.ToLatin1([]byte(tt.in), tt.enc)
			if tt.wantLine == 0 {
				if err != nil {
					t.Fatalf("ToLatin1: %v", err)
				}
				if string(got) != tt.want {
					t.Errorf("ToLatin1 = %q, want %q", got, tt.want)
				}
				return
			}
			var encErr *pasrau.EncodingError
			if !errors.As(err, &encErr) || !errors.Is(err, pasrau.ErrNotLatin1) {
				t.Fatalf("ToLatin1 error = %v, want an *EncodingError matching ErrNotLatin1", err)
			}
			if encErr.Line != tt.wantLine || encErr.Column != tt.wantCol {
				t.Errorf("error at line %d column %d, want line %d column %d (%v)", encErr.Line, encErr.Column, tt.wantLine, tt.wantCol, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d", tt.wantLine)) {
				t.Errorf("error %q does not name line %d", err, tt.wantLine)
			}
		})
	}
	if _, err := pasrau.ToLatin1([]byte("x"), pasrau.Encoding(0)); err == nil {
		t.Errorf("ToLatin1 with an unknown encoding: no error")
	}
}

func TestCheckIdentifiers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		siret bool
		ok    bool
	}{
		{"537550964", false, true},
		{"537550965", false, false},
		{"53755096", false, false},
		{"53755096A", false, false},
		{"53755096400010", true, true},
		{"53755096400011", true, false},
		{"35600000000048", true, true}, // La Poste head office: passes Luhn
		{"35600000000010", true, true}, // fails Luhn, digit sum 15
		{"35600000000011", true, false},
		{"5375509640001", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			check := pasrau.CheckSIREN
			if tt.siret {
				check = pasrau.CheckSIRET
			}
			err := check(tt.value)
			if (err == nil) != tt.ok {
				t.Errorf("check(%s) = %v, want ok %v", tt.value, err, tt.ok)
			}
			if err != nil && !errors.Is(err, pasrau.ErrInvalidIdentifier) {
				t.Errorf("error %v does not match ErrInvalidIdentifier", err)
			}
		})
	}
}
