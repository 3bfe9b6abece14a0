package pasrau_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

// bigDeclaration returns a valid declaration in enc with n individuals (24
// lines each) after the header of the valid declaration, and its number of
// lines.
func bigDeclaration(tb testing.TB, n int, enc pasrau.Encoding) ([]byte, int) {
	tb.Helper()
	lines := validLines(tb)
	var b bytes.Buffer
	count := 0
	put := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
		count++
	}
	for _, l := range lines[:49] { // up to S21.G00.20.010, before the individual
		put("%s", l)
	}
	for i := range n {
		put("S21.G00.30.001,'%013d'", 1581075005001+i)
		put("S21.G00.30.002,'BRICHET'")
		put("S21.G00.30.003,'HORTEUR'")
		put("S21.G00.30.004,'MARIEKE'")
		put("S21.G00.30.005,'02'")
		put("S21.G00.30.006,'07101988'")
		put("S21.G00.30.007,'PARIS'")
		put("S21.G00.30.008,'%d rue du Levant'", i%200+1)
		put("S21.G00.30.009,'75009'")
		put("S21.G00.30.010,'PARIS'")
		put("S21.G00.30.014,'75'")
		put("S21.G00.30.015,'FR'")
		put("S21.G00.30.019,'%016d'", i)
		put("S21.G00.31.001,'10112026'")
		put("S21.G00.31.009,'BROCHET'")
		put("S21.G00.50.001,'25112026'")
		put("S21.G00.50.002,'2384.15'")
		put("S21.G00.50.006,'10.00'")
		put("S21.G00.50.007,'01'")
		put("S21.G00.50.009,'238.42'")
		put("S21.G00.56.001,'102026'")
		put("S21.G00.56.002,'02'")
		put("S21.G00.56.004,'2384.15'")
		put("S21.G00.56.007,'-119.21'")
	}
	put("S90.G00.90.001,'%d'", count+2)
	put("S90.G00.90.002,'1'")
	if enc == pasrau.UTF8 {
		return b.Bytes(), count
	}
	file, err := pasrau.ToLatin1(b.Bytes(), pasrau.UTF8)
	if err != nil {
		tb.Fatalf("ToLatin1: %v", err)
	}
	return file, count
}

func TestBigDeclarationIsValid(t *testing.T) {
	t.Parallel()
	file, lines := bigDeclaration(t, 100, pasrau.Latin1)
	decl, problems := pasrau.Validate(file, pasrau.Latin1)
	if len(problems) != 0 {
		t.Fatalf("problems:\n%s", report(problems[:min(len(problems), 5)]))
	}
	if decl.Lines != lines || decl.Individuals != 100 {
		t.Errorf("lines %d individuals %d, want %d and 100", decl.Lines, decl.Individuals, lines)
	}
}

// BenchmarkValidate measures the validator on a declaration of about 240,000
// lines; the lines/s metric must stay above 1,000,000 on a 2-core machine.
func BenchmarkValidate(b *testing.B) {
	for _, enc := range []pasrau.Encoding{pasrau.Latin1, pasrau.UTF8} {
		b.Run(enc.String(), func(b *testing.B) {
			file, lines := bigDeclaration(b, 10000, enc)
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, problems := pasrau.Validate(file, enc); len(problems) != 0 {
					b.Fatalf("problems: %v", problems[0])
				}
			}
			b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
