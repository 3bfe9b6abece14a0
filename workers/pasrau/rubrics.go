package pasrau

// rubricKind says how the validator checks a rubric's value and what it keeps
// of it. Rubrics not listed in kindOf are checked for syntax and encoding only:
// the validator is a cheap gate before deposit, not the norm's full control
// (PASRAU's own norm control answers with the anomaly report, nature 11).
type rubricKind uint8

const (
	kindOther rubricKind = iota
	kindSoftwareName
	kindSoftwareEditor
	kindSoftwareVersion
	kindTestReal
	kindNormVersion
	kindSenderSIREN
	kindSenderNIC
	kindNature
	kindType
	kindFraction
	kindMonth
	kindCompanySIREN
	kindHeadOfficeNIC
	kindEstablishmentNIC
	kindDate
	kindBirthDate
	kindMonthYear
	kindAmount
	kindIndividual
	kindTotalLines
	kindTotalDeclarations
)

// kindOf classifies a rubric by its 14-byte name.
//
// Date rubrics (JJMMAAAA) are those of the guide's sample whose meaning is a
// date: S20.G00.05.007 (file date), S21.G00.20.006 and .007 (period of the
// payment), S21.G00.31.001 (change date), S21.G00.50.001 (payment date), plus
// S20.G00.05.005 (declared month, 01MMAAAA) and S21.G00.30.006 (birth date,
// where the norm lets 00 stand for an unknown day or month).
//
// Amount rubrics (an optional minus, digits, a dot and exactly two decimals)
// are the sample's amounts and rates: S21.G00.20.005, S21.G00.50.002, .006,
// .009, S21.G00.56.004, .005 and .007. The norm's decimal separator is the
// dot; the comma values of the guide's sample ('10000,00', '10,00', '-5,00')
// are defects of the sample and are reported.
//
// S21.G00.56.001 (month of the corrected error) is MMAAAA.
func kindOf(id []byte) rubricKind {
	switch string(id) {
	case "S10.G00.00.001":
		return kindSoftwareName
	case "S10.G00.00.002":
		return kindSoftwareEditor
	case "S10.G00.00.003":
		return kindSoftwareVersion
	case "S10.G00.00.005":
		return kindTestReal
	case "S10.G00.00.006":
		return kindNormVersion
	case "S10.G00.01.001":
		return kindSenderSIREN
	case "S10.G00.01.002":
		return kindSenderNIC
	case "S20.G00.05.001":
		return kindNature
	case "S20.G00.05.002":
		return kindType
	case "S20.G00.05.003":
		return kindFraction
	case "S20.G00.05.005":
		return kindMonth
	case "S21.G00.06.001":
		return kindCompanySIREN
	case "S21.G00.06.002":
		return kindHeadOfficeNIC
	case "S21.G00.11.001":
		return kindEstablishmentNIC
	case "S20.G00.05.007", "S21.G00.20.006", "S21.G00.20.007", "S21.G00.31.001", "S21.G00.50.001":
		return kindDate
	case "S21.G00.30.006":
		return kindBirthDate
	case "S21.G00.56.001":
		return kindMonthYear
	case "S21.G00.20.005", "S21.G00.50.002", "S21.G00.50.006", "S21.G00.50.009",
		"S21.G00.56.004", "S21.G00.56.005", "S21.G00.56.007":
		return kindAmount
	case "S21.G00.30.001":
		return kindIndividual
	case "S90.G00.90.001":
		return kindTotalLines
	case "S90.G00.90.002":
		return kindTotalDeclarations
	}
	return kindOther
}

// dateProblem returns why v is not a JJMMAAAA calendar date, or "". With
// unknownParts, 00 is accepted for the day, or for the day and the month.
func dateProblem(v []byte, unknownParts bool) string {
	if len(v) != 8 || !allDigits(v) {
		return "a date is 8 digits JJMMAAAA"
	}
	day := int(v[0]-'0')*10 + int(v[1]-'0')
	month := int(v[2]-'0')*10 + int(v[3]-'0')
	year := int(v[4]-'0')*1000 + int(v[5]-'0')*100 + int(v[6]-'0')*10 + int(v[7]-'0')
	if year == 0 {
		return "year 0000 is not a year"
	}
	if unknownParts && day == 0 && month <= 12 {
		return ""
	}
	if month < 1 || month > 12 {
		return "month " + string(v[2:4]) + " does not exist"
	}
	if day < 1 || day > daysIn(month, year) {
		return "day " + string(v[0:2]) + " does not exist in month " + string(v[2:4]) + "/" + string(v[4:8])
	}
	return ""
}

// monthYearProblem returns why v is not MMAAAA, or "".
func monthYearProblem(v []byte) string {
	if len(v) != 6 || !allDigits(v) {
		return "a month is 6 digits MMAAAA"
	}
	month := int(v[0]-'0')*10 + int(v[1]-'0')
	if month < 1 || month > 12 {
		return "month " + string(v[0:2]) + " does not exist"
	}
	if string(v[2:]) == "0000" {
		return "year 0000 is not a year"
	}
	return ""
}

// daysIn returns the number of days of month in year (Gregorian calendar).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// amountProblem returns why v is not an amount with two decimals, or "".
func amountProblem(v []byte) string {
	s := v
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	n := len(s)
	if n >= 4 && allDigits(s[:n-3]) && s[n-3] == '.' && allDigits(s[n-2:]) {
		return ""
	}
	if n >= 4 && allDigits(s[:n-3]) && s[n-3] == ',' && allDigits(s[n-2:]) {
		return "the decimal separator is a dot, not a comma"
	}
	return "an amount is digits, a dot and two decimals (e.g. 2384.15)"
}
