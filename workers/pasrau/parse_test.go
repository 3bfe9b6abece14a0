package pasrau_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

func TestParseListing(t *testing.T) {
	t.Parallel()
	paris := pasrau.Paris()
	at := func(s string) time.Time {
		t.Helper()
		tm, err := time.ParseInLocation("20060102150405", s, paris)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		file string
		want pasrau.Listing
	}{
		{"guide-example.xml", pasrau.Listing{PageCurrent: 1, PagesTotal: 15, Flux: []pasrau.Flux{
			{ID: "F1spdeAilkR4q3UU1QA7haa", Returns: []pasrau.Return{
				{Publication: at("20130801123242"), Production: at("20130801123242"), Nature: "10", Statut: pasrau.StatusOK, ID: "0123456789",
					URL: "https://ws-pasrau.net-entreprises.fr/telecharger-retour/1.0/F1spdeAilkR4q3UU1QA7haa/0123456789"},
				{Publication: at("20130801123242"), Production: at("20130801123242"), Nature: "11", Statut: pasrau.StatusOK, ID: "1234567890",
					URL: "https://ws-pasrau.net-entreprises.fr/telecharger-retour/1.0/F1spdeAilkR4q3UU1QA7haa/1234567890"},
				{Publication: at("20130801123242"), Production: at("20130801123242"), Nature: "20", Statut: pasrau.StatusOK},
			}},
			{ID: "klmnopqrst", Returns: []pasrau.Return{
				{Publication: at("20140124123242"), Production: at("20140124123242"), Nature: "10", Statut: pasrau.StatusOK, ID: "3456789012",
					URL: "https://ws-pasrau.net-entreprises.fr/telecharger-retour/1.0/klmnopqrst/3456789012"},
				{Publication: at("20140124123242"), Production: at("20140124123242"), Nature: "11", Statut: pasrau.StatusOK, ID: "5678901234",
					URL: "https://ws-pasrau.net-entreprises.fr/telecharger-retour/1.0/klmnopqrst/5678901234"},
				{Publication: at("20140124123242"), Production: at("20140124123242"), Nature: "20", Statut: pasrau.StatusOK},
			}},
		}}},
		{"pagetotal.xml", pasrau.Listing{PageCurrent: 2, PagesTotal: 3, Flux: []pasrau.Flux{
			{ID: "WSaah7AQlUpYL5RsQssseG.", Returns: []pasrau.Return{
				{Publication: at("20261205101500"), Production: at("20261205101459"), Nature: "66", Statut: pasrau.StatusKO, ID: "0000000042",
					URL: "https://edit-pasrau-ws.net-entreprises.fr/downloadcr?idflux=WSaah7AQlUpYL5RsQssseG.&idretour=0000000042",
					OPS: "URSSAF", Delegataire: "12345678900011"},
			}},
		}}},
		{"empty.xml", pasrau.Listing{PageCurrent: 1, PagesTotal: 1}},
		{"en-cours.xml", pasrau.Listing{PageCurrent: 1, PagesTotal: 1, Flux: []pasrau.Flux{
			{ID: "Ab3dE5gH7jK9mN1pQ3sT5vX", Returns: []pasrau.Return{
				{Publication: at("20261205101500"), Production: at("20261205101500"), Nature: "10", Statut: pasrau.StatusOK, ID: "1000000001",
					URL: "https://edit-pasrau-ws.net-entreprises.fr/telecharger-retour/1.0/Ab3dE5gH7jK9mN1pQ3sT5vX/1000000001"},
				{Nature: "11", Statut: pasrau.StatusInProgress},
			}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := pasrau.ParseListing(readTestdata(t, "listings/"+tt.file), nil)
			if err != nil {
				t.Fatalf("ParseListing: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("listing:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseListingTimeZone(t *testing.T) {
	t.Parallel()
	l, err := pasrau.ParseListing(readTestdata(t, "listings/pagetotal.xml"), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Flux[0].Returns[0].Publication, time.Date(2026, 12, 5, 10, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("publication in UTC = %v, want %v", got, want)
	}
	l, err = pasrau.ParseListing(readTestdata(t, "listings/pagetotal.xml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Flux[0].Returns[0].Publication.UTC(), time.Date(2026, 12, 5, 9, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("publication read in Paris = %v UTC, want %v (CET is UTC+1)", got, want)
	}
}

func TestParseListingRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc string }{
		{"not XML", "retours"},
		{"other root", "<liste></liste>"},
		{"DOCTYPE", `<!DOCTYPE retours [<!ENTITY x "y">]><retours></retours>`},
		{"external entity", `<!DOCTYPE retours [<!ENTITY x SYSTEM "file:///etc/passwd">]><retours><flux><id>&x;</id></flux></retours>`},
		{"undeclared entity", `<retours><flux><id>&x;</id></flux></retours>`},
		{"two roots", "<retours></retours><retours></retours>"},
		{"bad flux id", "<retours><flux><id>a b</id></flux></retours>"},
		{"flux id too long", "<retours><flux><id>" + strings.Repeat("a", 51) + "</id></flux></retours>"},
		{"bad statut", "<retours><flux><id>a</id><retour><publication>20260101000000</publication><nature>10</nature><statut>FINI</statut></retour></flux></retours>"},
		{"bad nature", "<retours><flux><id>a</id><retour><publication>20260101000000</publication><nature>dix</nature><statut>OK</statut></retour></flux></retours>"},
		{"bad time", "<retours><flux><id>a</id><retour><publication>2026-01-01</publication><nature>10</nature><statut>OK</statut></retour></flux></retours>"},
		{"impossible time", "<retours><flux><id>a</id><retour><publication>20261301000000</publication><nature>10</nature><statut>OK</statut></retour></flux></retours>"},
		{"OK without publication", "<retours><flux><id>a</id><retour><nature>10</nature><statut>OK</statut></retour></flux></retours>"},
		{"relative url", "<retours><flux><id>a</id><retour><publication>20260101000000</publication><nature>10</nature><statut>OK</statut><url>/x</url></retour></flux></retours>"},
		{"url too long", "<retours><flux><id>a</id><retour><publication>20260101000000</publication><nature>10</nature><statut>OK</statut><url>https://h/" + strings.Repeat("x", 250) + "</url></retour></flux></retours>"},
		{"bad page", "<retours><pageencours>un</pageencours></retours>"},
		{"unsupported encoding", `<?xml version="1.0" encoding="EBCDIC"?><retours></retours>`},
		{"too large", "<retours>" + strings.Repeat(" ", pasrau.MaxDocumentSize) + "</retours>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := pasrau.ParseListing([]byte(tt.doc), nil)
			if !errors.Is(err, pasrau.ErrMalformed) {
				t.Errorf("ParseListing = %+v, %v; want an error matching ErrMalformed", l, err)
			}
		})
	}
}

func TestParseListingLatin1(t *testing.T) {
	t.Parallel()
	doc := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><retours><flux><id>a</id><retour><publication>20260101000000</publication>" +
		"<nature>94</nature><statut>OK</statut><delegataire>Soci\xe9t\xe9</delegataire></retour></flux></retours>"
	l, err := pasrau.ParseListing([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Flux[0].Returns[0].Delegataire; got != "Société" {
		t.Errorf("delegataire = %q, want %q", got, "Société")
	}
}

func TestParseReport(t *testing.T) {
	t.Parallel()
	paris := pasrau.Paris()
	tests := []struct {
		file          string
		typ           string
		idflux        string
		etat          pasrau.Status
		conformity    pasrau.Status
		anomalies     []pasrau.Anomaly
		rates         []pasrau.PASRate
		identity      pasrau.Identity
		identified    bool
		received      time.Time
		declarantNom  string
		essai         string
		software      pasrau.Software
		declarationTy string
	}{
		{file: "aee.xml", typ: pasrau.ReportAEE, idflux: "Xq7Lm2Pz9Rt4Vw6Yb8Nc1Dk", etat: pasrau.StatusOK,
			received: time.Date(2026, 12, 5, 10, 15, 0, 0, paris), declarantNom: "DEMO", essai: "02"},
		{file: "are.xml", typ: pasrau.ReportARE, idflux: "Rj5Kp8Ws2Xa4Bc6De8Fg0Hi", etat: pasrau.StatusKO,
			received: time.Date(2026, 12, 5, 10, 42, 34, 0, paris), declarantNom: "DEMO",
			anomalies: []pasrau.Anomaly{{Level: pasrau.AnomalyLevelEnvoi, Code: "B1-105-15", Category: "bloquant",
				Message: "Le format du fichier n'est pas reconnu.", Line: 48, Rubric: "S21.G00.20.007", Value: "30062018'"}}},
		{file: "cco.xml", typ: pasrau.ReportCCO, idflux: "Xq7Lm2Pz9Rt4Vw6Yb8Nc1Dk", etat: pasrau.StatusOK, conformity: pasrau.StatusOK,
			identified: true, identity: pasrau.Identity{SIRET: "53755096400010", Month: "2026-11", Nature: "11", Type: "01", Fraction: "1", EssaiReel: "02"},
			declarantNom: "DEMO", essai: "02", software: pasrau.Software{Name: "superpaie", Editor: "génielog", Version: "v99"}},
		{file: "ban.xml", typ: pasrau.ReportBAN, idflux: "Xq7Lm2Pz9Rt4Vw6Yb8Nc1Dk", etat: pasrau.StatusKO, conformity: pasrau.StatusKO,
			identified: true, identity: pasrau.Identity{SIRET: "53755096400010", Month: "2026-11", Nature: "11", Type: "01", Fraction: "1", EssaiReel: "02"},
			declarantNom: "DEMO", essai: "02", software: pasrau.Software{Name: "superpaie", Editor: "génielog", Version: "v99"},
			anomalies: []pasrau.Anomaly{
				{Level: pasrau.AnomalyLevelEnvoi, Code: "CSL-01", Category: "bloquant", Message: "La rubrique S21.G00.11.001 est invalide.", Line: 37},
				{Level: pasrau.AnomalyLevelDeclaration, Code: "CCH-11", Category: "non-bloquant", Message: "Montant incohérent.", Count: 2, Rubric: "S21.G00.20.005", Value: "119.21"},
			}},
		{file: "bis.xml", typ: pasrau.ReportBIS, idflux: "Xq7Lm2Pz9Rt4Vw6Yb8Nc1Dk", etat: pasrau.StatusOK, essai: "02",
			identified: true, identity: pasrau.Identity{SIRET: "53755096400010", Month: "2026-11", EssaiReel: "02"},
			anomalies: []pasrau.Anomaly{{Level: pasrau.AnomalyLevelDeclaration, Code: "I0320", Category: "non-bloquant", Message: "SALARIE_INCONNU", Count: 1}}},
		{file: "crm94.xml", typ: pasrau.ReportCRMNominative, idflux: "Xq7Lm2Pz9Rt4Vw6Yb8Nc1Dk", etat: pasrau.StatusANO,
			rates: []pasrau.PASRate{{NIR: "1581075005001", Matricule: "MAT001", Rate: "14.00"}, {NIR: "2600175005002", Matricule: "MAT002", Rate: "0"}},
			anomalies: []pasrau.Anomaly{{Level: pasrau.AnomalyLevelDeclaration, Code: "ADR05", Category: "non-bloquant",
				Message: "Échec de reconnaissance de la personne par la DGFiP.", Rubric: "S21.G00.30.010", Value: "Bordeau"}}},
		{file: "crm93.xml", typ: pasrau.ReportCRMPayment, idflux: "Xq7Lm2Pz9Rt4Vw6Yb8Nc1Dk", etat: pasrau.StatusKO,
			anomalies: []pasrau.Anomaly{{Level: pasrau.AnomalyLevelDeclaration, Code: "CBS03", Category: "bloquant", Message: "Prélèvement SEPA invalide."}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			r, err := pasrau.ParseReport(readTestdata(t, "reports/"+tt.file), nil)
			if err != nil {
				t.Fatalf("ParseReport: %v", err)
			}
			if r.Type != tt.typ || r.Profil != "PASRAU" || r.Version != "v02r03" {
				t.Errorf("type/profil/version = %q/%q/%q, want %q/PASRAU/v02r03", r.Type, r.Profil, r.Version, tt.typ)
			}
			if r.IDFlux != tt.idflux || r.Etat != tt.etat || r.Conformity() != tt.conformity {
				t.Errorf("idflux %q etat %q conformity %q, want %q %q %q", r.IDFlux, r.Etat, r.Conformity(), tt.idflux, tt.etat, tt.conformity)
			}
			if !reflect.DeepEqual(r.Anomalies, tt.anomalies) {
				t.Errorf("anomalies:\n got %+v\nwant %+v", r.Anomalies, tt.anomalies)
			}
			if !reflect.DeepEqual(r.Rates, tt.rates) {
				t.Errorf("rates:\n got %+v\nwant %+v", r.Rates, tt.rates)
			}
			id, ok := r.Identity()
			if ok != tt.identified || id != tt.identity {
				t.Errorf("Identity() = %+v, %v; want %+v, %v", id, ok, tt.identity, tt.identified)
			}
			if !r.Received.Equal(tt.received) {
				t.Errorf("received = %v, want %v", r.Received, tt.received)
			}
			if r.Declarant.Nom != tt.declarantNom || r.EssaiReel != tt.essai || r.Software != tt.software {
				t.Errorf("declarant %q essai %q software %+v, want %q %q %+v", r.Declarant.Nom, r.EssaiReel, r.Software, tt.declarantNom, tt.essai, tt.software)
			}
		})
	}
}

func TestParseReportRefuses(t *testing.T) {
	t.Parallel()
	const ns = `xmlns:gipmds="http://www.gip-mds.fr/"`
	tests := []struct{ name, doc string }{
		{"no namespace", `<rapport type="AEE"><envoi/></rapport>`},
		{"other namespace", `<x:rapport xmlns:x="http://example.com/" type="AEE"/>`},
		{"no type", `<gipmds:rapport ` + ns + `/>`},
		{"DOCTYPE", `<!DOCTYPE r [<!ENTITY a "b">]><gipmds:rapport ` + ns + ` type="AEE"/>`},
		{"bad etat", `<gipmds:rapport ` + ns + ` type="AEE"><envoi><envoi_bilan><envoi_etat>PARFAIT</envoi_etat></envoi_bilan></envoi></gipmds:rapport>`},
		{"bad idflux", `<gipmds:rapport ` + ns + ` type="AEE"><envoi><envoi_identification><idflux>a/b</idflux></envoi_identification></envoi></gipmds:rapport>`},
		{"bad numero_ligne", `<gipmds:rapport ` + ns + ` type="ARE"><envoi><envoi_anomalie><description><code>X</code><numero_ligne>dix</numero_ligne></description></envoi_anomalie></envoi></gipmds:rapport>`},
		{"bad rate", `<gipmds:rapport ` + ns + ` type="CRM nominatif"><declaration><declaration_bilan><salarie><NIR>1</NIR><taux_imposition_PAS>14,5</taux_imposition_PAS></salarie></declaration_bilan></declaration></gipmds:rapport>`},
		{"bad mois", `<gipmds:rapport ` + ns + ` type="CCO"><declaration><declaration_identification><mois>112026</mois></declaration_identification></declaration></gipmds:rapport>`},
		{"bad date", `<gipmds:rapport ` + ns + ` type="AEE"><envoi><envoi_identification><date_reception>05/12/2026</date_reception></envoi_identification></envoi></gipmds:rapport>`},
		{"truncated", `<gipmds:rapport ` + ns + ` type="AEE"><envoi>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := pasrau.ParseReport([]byte(tt.doc), nil)
			if !errors.Is(err, pasrau.ErrMalformed) {
				t.Errorf("ParseReport = %+v, %v; want an error matching ErrMalformed", r, err)
			}
		})
	}
}

func TestNormalizeReturnURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"  https://h/telecharger-\nretour/1.0/F/1  ", "https://h/telecharger-retour/1.0/F/1"},
		{"https://h/downloadcr?idflux=a&amp;idretour=b", "https://h/downloadcr?idflux=a&idretour=b"},
		{"https://h/downloadcr?idflux=a&idretour=b", "https://h/downloadcr?idflux=a&idretour=b"},
	}
	for _, tt := range tests {
		got, err := pasrau.NormalizeReturnURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeReturnURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := pasrau.NormalizeReturnURL("ftp://h/x"); !errors.Is(err, pasrau.ErrInvalidURL) {
		t.Errorf("ftp url: error %v, want ErrInvalidURL", err)
	}
}
