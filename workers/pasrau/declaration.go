package pasrau

import "fmt"

// Essai/réel values of S10.G00.00.005 (and of essai_reel in return documents).
const (
	EssaiTest = "01"
	EssaiReal = "02"
)

// Identity is what makes a PASRAU declaration unique for passerelle: the
// declared establishment, the month, the declaration's nature, type and
// fraction, and whether it is a test or a real declaration. Two deposits with
// the same Identity are the same declaration (the second one would be a
// duplicate, or a correction when its Type says so).
//
// SIRET is the establishment the declaration is about (S21.G00.06.001 SIREN +
// S21.G00.11.001 NIC), not the sender of S10.G00.01 (a payroll bureau may send
// for many companies) nor the declarant who logs in: it is also what the
// anomaly report identifies (SIREN + nic_affectation), which is what lets
// FindDeposit recognise a deposit among the declarant's returns.
type Identity struct {
	SIRET     string `json:"siret"`
	Month     string `json:"month"` // "2026-11", from S20.G00.05.005 01MMAAAA
	Nature    string `json:"nature"`
	Type      string `json:"type"`
	Fraction  string `json:"fraction"`
	EssaiReel string `json:"essai_reel"` // EssaiTest or EssaiReal
}

// String returns a short human form such as
// "53755096400010 2026-11 nature 11 type 01 fraction 1 real".
func (id Identity) String() string {
	kind := "test"
	if id.EssaiReel == EssaiReal {
		kind = "real"
	}
	return fmt.Sprintf("%s %s nature %s type %s fraction %s %s", id.SIRET, id.Month, id.Nature, id.Type, id.Fraction, kind)
}

// Software is the payroll software named in S10.G00.00.001 to .003.
type Software struct {
	Name    string `json:"name"`
	Editor  string `json:"editor"`
	Version string `json:"version"`
}

// Declaration is what Validate reads from a declaration file. Fields whose
// rubric is absent or invalid are empty; Validate's Problems say why.
type Declaration struct {
	Identity
	// SIREN is the company (S21.G00.06.001).
	SIREN string `json:"siren"`
	// SenderSIRET is the sender of the file (S10.G00.01.001 + .002).
	SenderSIRET string `json:"sender_siret"`
	// NormVersion is S10.G00.00.006.
	NormVersion string   `json:"norm_version"`
	Software    Software `json:"software"`
	// Declarations is the number of S20 blocks (S20.G00.05.001 rubrics).
	Declarations int `json:"declarations"`
	// Individuals is the number of S21.G00.30.001 rubrics.
	Individuals int `json:"individuals"`
	// Lines is the number of lines of the file.
	Lines int `json:"lines"`
}

// IsTest reports whether S10.G00.00.005 says "01" (test).
func (d *Declaration) IsTest() bool { return d.EssaiReel == EssaiTest }

// String returns the identity followed by the software and the size, e.g.
// "53755096400010 2026-11 nature 11 type 01 fraction 1 real (superpaie v99, 78 lines)".
func (d *Declaration) String() string {
	return fmt.Sprintf("%s (%s %s, %d lines)", d.Identity, d.Software.Name, d.Software.Version, d.Lines)
}
