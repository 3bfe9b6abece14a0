package pasrau

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Validate reads a declaration file declared in enc and returns what it
// declares and every problem found, each with its line number and rubric.
// The Declaration is never nil; its fields are empty where the file does not
// say (or says wrongly). An empty Problems means the file passed every check.
//
// Checks, in one pass:
//   - encoding: a UTF8 file must be valid UTF-8 and encodable in ISO-8859-1;
//     a Latin1 file must not hold C1 control bytes (0x80-0x9F, a sign of
//     Windows-1252) nor UTF-8 sequences of accented letters ("Ã©");
//     control characters are refused in both. A UTF-8 byte order mark is
//     tolerated (ToLatin1 drops it).
//   - syntax: every line is Sxx.Gyy.zz.nnn,'value' with no space around the
//     comma, a non-empty value, and no stray quote at either end of the value
//     (an apostrophe inside a value, as in N'DIAYE, is allowed). LF and CRLF
//     line ends are both accepted; an empty line is a problem.
//   - structure: the first line is an S10 rubric; blocks come in the order
//     S10, S20, S21, S90; exactly one S20.G00.05.001; S90.G00.90.001 equals
//     the number of lines (S10 and both S90 lines included) and
//     S90.G00.90.002 the number of S20 blocks.
//   - values: SIREN (9 digits, Luhn), NIC (5 digits), SIRET (Luhn, or digit
//     sum multiple of 5 for La Poste's SIREN 356000000), dates, amounts, and
//     S10.G00.00.005 in {01, 02}; see kindOf for the rubrics concerned.
//
// Validate reads at least a million lines per second on one core
// (BenchmarkValidate) and allocates only for the values it keeps and the
// problems it reports.
func Validate(file []byte, enc Encoding) (*Declaration, Problems) {
	v := validator{enc: enc, decl: &Declaration{}}
	switch enc {
	case UTF8:
		file = trimBOM(file)
	case Latin1:
	default:
		v.add(0, "", ProblemEncoding, fmt.Sprintf("unknown encoding %v", enc))
		return v.decl, v.problems
	}
	if len(file) == 0 {
		v.add(0, "", ProblemEmpty, "the file is empty")
		return v.decl, v.problems
	}
	n := 0
	for len(file) > 0 {
		var line []byte
		if i := bytes.IndexByte(file, '\n'); i >= 0 {
			line, file = file[:i], file[i+1:]
		} else {
			line, file = file, nil
		}
		n++
		if k := len(line); k > 0 && line[k-1] == '\r' {
			line = line[:k-1]
		}
		v.line(n, line)
	}
	v.finish(n)
	return v.decl, v.problems
}

// validator holds the state of one Validate pass.
type validator struct {
	enc      Encoding
	decl     *Declaration
	problems Problems
	dropped  int

	block    int // last block seen: 10, 20, 21 or 90 (0 before the first)
	nature   int // S20.G00.05.001 lines seen
	identity bool

	// SIRENs seen last, to check the NIC that follows them.
	senderSIREN  [9]byte
	senderOK     bool
	companySIREN [9]byte
	companyOK    bool

	totalLines, totalDecl         int // values of the S90 rubrics, -1 if invalid
	totalLinesAt, totalDeclAt     int // their line numbers, 0 when absent
	seenMonth, seenEssai, seenEst bool
}

// add records a problem, keeping at most MaxProblems.
func (v *validator) add(line int, rubric string, code ProblemCode, msg string) {
	if len(v.problems) >= MaxProblems-1 {
		v.dropped++
		return
	}
	v.problems = append(v.problems, Problem{Line: line, Rubric: rubric, Code: code, Message: msg})
}

// line checks one line (line ends removed).
func (v *validator) line(n int, line []byte) {
	if len(line) == 0 {
		v.add(n, "", ProblemSyntax, "empty line")
		return
	}
	if n == 1 && !bytes.HasPrefix(line, []byte("S10.")) {
		v.add(n, rubricName(line), ProblemFirstLine, "the first line must be an S10 rubric (S10.G00.00.001)")
	}
	v.chars(n, line)
	id, value, reason := splitRubric(line)
	if reason != "" {
		v.add(n, rubricName(line), ProblemSyntax, reason)
		return
	}
	v.order(n, id)
	v.rubric(n, id, value)
}

// chars checks the characters of a line against the declared encoding.
func (v *validator) chars(n int, line []byte) {
	for _, b := range line {
		if b < 0x20 || b >= 0x7F {
			v.charsSlow(n, line)
			return
		}
	}
}

// charsSlow reports the first encoding problem of a line holding a control
// or non-ASCII byte.
func (v *validator) charsSlow(n int, line []byte) {
	name := rubricName(line)
	if v.enc == Latin1 {
		for i, b := range line {
			switch {
			case (b == 0xC2 || b == 0xC3) && i+1 < len(line) && line[i+1] >= 0x80 && line[i+1] <= 0xBF:
				r, _ := utf8.DecodeRune(line[i : i+2])
				v.add(n, name, ProblemEncoding, fmt.Sprintf("column %d: bytes 0x%02X 0x%02X are UTF-8 for %q: the file is not ISO-8859-1", i+1, b, line[i+1], r))
				return
			case b < 0x20 || (b >= 0x7F && b <= 0x9F):
				v.add(n, name, ProblemEncoding, fmt.Sprintf("column %d: byte 0x%02X is a control character in ISO-8859-1 (Windows-1252 text?)", i+1, b))
				return
			}
		}
		return
	}
	col := 1
	for i := 0; i < len(line); col++ {
		r, size := utf8.DecodeRune(line[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			v.add(n, name, ProblemEncoding, fmt.Sprintf("column %d: invalid UTF-8 byte 0x%02X", col, line[i]))
			return
		case r > 0xFF:
			v.add(n, name, ProblemEncoding, fmt.Sprintf("column %d: character %q (U+%04X) is outside ISO-8859-1", col, r, r))
			return
		case r < 0x20 || (r >= 0x7F && r <= 0x9F):
			v.add(n, name, ProblemEncoding, fmt.Sprintf("column %d: control character U+%04X", col, r))
			return
		}
		i += size
	}
}

// rubricName returns the line's first 14 bytes when they look like a rubric
// name, and "" otherwise.
func rubricName(line []byte) string {
	if len(line) >= 14 && rubricID(line[:14]) {
		return string(line[:14])
	}
	return ""
}

// rubricID reports whether id is Sdd.Gdd.dd.ddd.
func rubricID(id []byte) bool {
	return id[0] == 'S' && digit(id[1]) && digit(id[2]) && id[3] == '.' &&
		id[4] == 'G' && digit(id[5]) && digit(id[6]) && id[7] == '.' &&
		digit(id[8]) && digit(id[9]) && id[10] == '.' &&
		digit(id[11]) && digit(id[12]) && digit(id[13])
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

// splitRubric splits Sxx.Gyy.zz.nnn,'value' into the name and the value, or
// says why the line does not have that shape.
func splitRubric(line []byte) (id, value []byte, reason string) {
	if len(line) < 14 || !rubricID(line[:14]) {
		return nil, nil, "not a rubric line: expected Sxx.Gyy.zz.nnn,'value'"
	}
	if len(line) == 14 {
		return nil, nil, "no value after the rubric name"
	}
	switch line[14] {
	case ',':
	case ' ', '\t':
		return nil, nil, "space between the rubric name and the comma"
	default:
		return nil, nil, "expected a comma after the rubric name"
	}
	if len(line) == 15 {
		return nil, nil, "no value after the comma"
	}
	switch line[15] {
	case '\'':
	case ' ', '\t':
		return nil, nil, "space between the comma and the opening quote"
	default:
		return nil, nil, "the value must be in single quotes"
	}
	last := line[len(line)-1]
	switch {
	case len(line) == 16:
		return nil, nil, "no closing quote"
	case last == ' ' || last == '\t':
		return nil, nil, "space after the closing quote"
	case last != '\'':
		return nil, nil, "the line must end with the closing single quote"
	case len(line) == 17:
		return nil, nil, "empty value (leave the rubric out instead)"
	}
	value = line[16 : len(line)-1]
	switch {
	case value[0] == '\'':
		return nil, nil, "stray quote at the start of the value"
	case value[len(value)-1] == '\'':
		return nil, nil, "stray quote at the end of the value"
	}
	return line[:14], value, ""
}

// order checks the block sequence S10, (S20, S21...)..., S90.
func (v *validator) order(n int, id []byte) {
	block := int(id[1]-'0')*10 + int(id[2]-'0')
	prev := v.block
	var ok bool
	switch block {
	case 10:
		ok = prev == 0 || prev == 10
	case 20:
		ok = prev == 10 || prev == 20 || prev == 21
	case 21:
		ok = prev == 20 || prev == 21
	case 90:
		ok = prev != 0
	default:
		v.add(n, string(id), ProblemBlockOrder, fmt.Sprintf("unknown block S%02d (PASRAU has S10, S20, S21 and S90)", block))
		return
	}
	if !ok && prev != 0 {
		v.add(n, string(id), ProblemBlockOrder, fmt.Sprintf("S%02d rubric after the S%02d block: blocks go S10, S20, S21, S90", block, prev))
	}
	v.block = block
}

// rubric checks and keeps the value of a well-formed line.
func (v *validator) rubric(n int, id, value []byte) {
	d := v.decl
	first := v.nature <= 1 // values of the first declaration make the identity
	switch kindOf(id) {
	case kindSoftwareName:
		d.Software.Name = string(value)
	case kindSoftwareEditor:
		d.Software.Editor = string(value)
	case kindSoftwareVersion:
		d.Software.Version = string(value)
	case kindNormVersion:
		d.NormVersion = string(value)
	case kindTestReal:
		v.seenEssai = true
		if string(value) != EssaiTest && string(value) != EssaiReal {
			v.add(n, string(id), ProblemValue, fmt.Sprintf("test/real is 01 (test) or 02 (real), not %q", value))
			return
		}
		d.EssaiReel = string(value)
	case kindSenderSIREN:
		v.senderOK = v.siren(n, id, value, &v.senderSIREN)
	case kindSenderNIC:
		if v.nic(n, id, value) && v.senderOK {
			if siret, ok := v.siret(n, id, v.senderSIREN, value); ok {
				d.SenderSIRET = siret
			}
		}
	case kindNature:
		v.nature++
		if v.nature > 1 {
			v.add(n, string(id), ProblemDeclarationCount, fmt.Sprintf("declaration %d in one file: a PASRAU deposit carries exactly one S20 block", v.nature))
			return
		}
		d.Nature = string(value)
	case kindType:
		if first {
			d.Type = string(value)
		}
	case kindFraction:
		if first {
			d.Fraction = string(value)
		}
	case kindMonth:
		v.seenMonth = true
		if reason := dateProblem(value, false); reason != "" {
			v.add(n, string(id), ProblemDate, "declared month: "+reason)
			return
		}
		if value[0] != '0' || value[1] != '1' {
			v.add(n, string(id), ProblemDate, fmt.Sprintf("the declared month is 01MMAAAA, not %q", value))
			return
		}
		if first {
			d.Month = string(value[4:8]) + "-" + string(value[2:4])
		}
	case kindCompanySIREN:
		v.companyOK = v.siren(n, id, value, &v.companySIREN)
		if v.companyOK && first {
			d.SIREN = string(value)
		}
	case kindHeadOfficeNIC:
		if v.nic(n, id, value) && v.companyOK {
			v.siret(n, id, v.companySIREN, value)
		}
	case kindEstablishmentNIC:
		v.seenEst = true
		if v.nic(n, id, value) && v.companyOK {
			if siret, ok := v.siret(n, id, v.companySIREN, value); ok && first && !v.identity {
				d.SIRET = siret
				v.identity = true
			}
		}
	case kindDate:
		if reason := dateProblem(value, false); reason != "" {
			v.add(n, string(id), ProblemDate, reason)
		}
	case kindBirthDate:
		if reason := dateProblem(value, true); reason != "" {
			v.add(n, string(id), ProblemDate, reason)
		}
	case kindMonthYear:
		if reason := monthYearProblem(value); reason != "" {
			v.add(n, string(id), ProblemDate, reason)
		}
	case kindAmount:
		if reason := amountProblem(value); reason != "" {
			v.add(n, string(id), ProblemAmount, fmt.Sprintf("%q: %s", value, reason))
		}
	case kindIndividual:
		d.Individuals++
	case kindTotalLines:
		v.totalLinesAt, v.totalLines = n, v.count(n, id, value)
	case kindTotalDeclarations:
		v.totalDeclAt, v.totalDecl = n, v.count(n, id, value)
	}
}

// siren checks a SIREN rubric and copies it into dst when valid.
func (v *validator) siren(n int, id, value []byte, dst *[9]byte) bool {
	if reason := sirenProblem(value); reason != "" {
		v.add(n, string(id), ProblemSIREN, reason)
		return false
	}
	copy(dst[:], value)
	return true
}

// nic checks a NIC rubric.
func (v *validator) nic(n int, id, value []byte) bool {
	if len(value) != 5 || !allDigits(value) {
		v.add(n, string(id), ProblemNIC, fmt.Sprintf("a NIC is 5 digits, not %q", value))
		return false
	}
	return true
}

// siret checks the SIRET made of siren and nic, reporting on the NIC's line.
func (v *validator) siret(n int, id []byte, siren [9]byte, nic []byte) (string, bool) {
	var s [14]byte
	copy(s[:9], siren[:])
	copy(s[9:], nic)
	if reason := siretProblem(s[:]); reason != "" {
		v.add(n, string(id), ProblemSIRET, reason)
		return "", false
	}
	return string(s[:]), true
}

// count parses an S90 count, reporting a value that is not a number.
func (v *validator) count(n int, id, value []byte) int {
	if !allDigits(value) || len(value) > 9 {
		v.add(n, string(id), ProblemValue, fmt.Sprintf("a count is digits, not %q", value))
		return -1
	}
	c, _ := strconv.Atoi(string(value))
	return c
}

// finish runs the checks that need the whole file.
func (v *validator) finish(lines int) {
	d := v.decl
	d.Lines = lines
	d.Declarations = v.nature
	if v.nature == 0 {
		v.add(0, "S20.G00.05.001", ProblemDeclarationCount, "no declaration: the S20 block (S20.G00.05.001) is missing")
	}
	if !v.seenEssai {
		v.add(0, "S10.G00.00.005", ProblemMissing, "missing test/real indicator")
	}
	if !v.seenMonth {
		v.add(0, "S20.G00.05.005", ProblemMissing, "missing declared month")
	}
	if !v.seenEst {
		v.add(0, "S21.G00.11.001", ProblemMissing, "missing establishment NIC")
	}
	switch {
	case v.totalLinesAt == 0:
		v.add(0, "S90.G00.90.001", ProblemMissing, "missing total number of lines (S90 block)")
	case v.totalLines >= 0 && v.totalLines != lines:
		v.add(v.totalLinesAt, "S90.G00.90.001", ProblemTotals, fmt.Sprintf("says %d lines, the file has %d", v.totalLines, lines))
	}
	switch {
	case v.totalDeclAt == 0:
		v.add(0, "S90.G00.90.002", ProblemMissing, "missing number of declarations (S90 block)")
	case v.totalDecl >= 0 && v.totalDecl != v.nature:
		v.add(v.totalDeclAt, "S90.G00.90.002", ProblemTotals, fmt.Sprintf("says %d declaration(s), the file has %d", v.totalDecl, v.nature))
	}
	if v.dropped > 0 {
		v.problems = append(v.problems, Problem{Code: ProblemTruncated, Message: fmt.Sprintf("%d more problem(s) not listed", v.dropped)})
	}
}
