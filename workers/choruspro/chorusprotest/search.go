package chorusprotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// pagination is the paging part of a search request.
type pagination struct {
	NbResultatsParPage   int    `json:"nbResultatsParPage"`
	PageResultatDemandee int    `json:"pageResultatDemandee"`
	TriColonne           string `json:"triColonne"`
	TriSens              string `json:"triSens"`
}

// parametresRetour describes the page answered.
type parametresRetour struct {
	PageCourante       int `json:"pageCourante"`
	Pages              int `json:"pages"`
	Total              int `json:"total"`
	NbResultatsParPage int `json:"nbResultatsParPage"`
}

// page returns the bounds of the requested page among total results: pages
// of 10 by default, at most 1000.
func (p *pagination) page(total int) (start, end int, pr parametresRetour) {
	size, num := 10, 1
	if p != nil && p.NbResultatsParPage > 0 {
		size = min(p.NbResultatsParPage, 1000)
	}
	if p != nil && p.PageResultatDemandee > 0 {
		num = p.PageResultatDemandee
	}
	pages := (total + size - 1) / size
	start = min((num-1)*size, total)
	end = min(start+size, total)
	return start, end, parametresRetour{PageCourante: num, Pages: pages, Total: total, NbResultatsParPage: size}
}

// descending reports whether a triSens asks for a descending sort.
func (p *pagination) descending() bool {
	return p != nil && strings.HasPrefix(strings.ToLower(strings.TrimSpace(p.TriSens)), "desc")
}

// statusList accepts statutCourant as a list or as a single string.
type statusList []string

// UnmarshalJSON reads a JSON array of strings or a string.
func (s *statusList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if one != "" {
			*s = statusList{one}
		}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("statutCourant: %w", err)
	}
	*s = many
	return nil
}

// rechercherIn is the body of factures/v1/rechercher/fournisseur.
type rechercherIn struct {
	IDUtilisateurCourant           int64       `json:"idUtilisateurCourant"`
	IDFournisseur                  int64       `json:"idFournisseur"`
	NumeroFluxDepot                string      `json:"numeroFluxDepot"`
	NumeroFacture                  string      `json:"numeroFacture"`
	StatutCourant                  statusList  `json:"statutCourant"`
	PeriodeDateDepotDu             string      `json:"periodeDateDepotDu"`
	PeriodeDateDepotAu             string      `json:"periodeDateDepotAu"`
	TypeFacture                    string      `json:"typeFacture"`
	RechercheFactureParFournisseur *pagination `json:"rechercheFactureParFournisseur"`
}

// factureTrouvee is one invoice of a search answer.
type factureTrouvee struct {
	IdentifiantFactureCPP   int64       `json:"identifiantFactureCPP"`
	NumeroFacture           string      `json:"numeroFacture"`
	Statut                  string      `json:"statut"`
	NumeroFluxDepot         string      `json:"numeroFluxDepot,omitempty"`
	DateDepot               string      `json:"dateDepot"`
	DateFacture             string      `json:"dateFacture,omitempty"`
	DateHeureEtatCourant    string      `json:"dateHeureEtatCourant"`
	CommentaireEtatCourant  string      `json:"commentaireEtatCourant,omitempty"`
	ModeDepot               string      `json:"modeDepot"`
	TypeFacture             string      `json:"typeFacture"`
	Devise                  string      `json:"devise"`
	MontantHT               json.Number `json:"montantHT,omitempty"`
	MontantTTC              json.Number `json:"montantTTC,omitempty"`
	MontantAPayer           json.Number `json:"montantAPayer,omitempty"`
	IDDestinataire          int64       `json:"idDestinataire"`
	CodeDestinataire        string      `json:"codeDestinataire"`
	DesignationDestinataire string      `json:"designationDestinataire"`
	CodeServiceExecutant    string      `json:"codeServiceExecutant,omitempty"`
	IDFournisseur           int64       `json:"idFournisseur"`
	CodeFournisseur         string      `json:"codeFournisseur"`
}

// rechercherOut is the answer of factures/v1/rechercher/fournisseur.
type rechercherOut struct {
	retour
	ListeFactures    []factureTrouvee `json:"listeFactures"`
	ParametresRetour parametresRetour `json:"parametresRetour"`
}

// rechercherFactures serves factures/v1/rechercher/fournisseur: the
// invoices of the account's suppliers visible now, filtered, sorted by
// identifiantFactureCPP (or triColonne NumeroFacture / DateDepot), one page.
func (e *Emulator) rechercherFactures(c *callCtx) (int, any) {
	var in rechercherIn
	if err := json.Unmarshal(c.body, &in); err != nil {
		return refusal(CodeRequeteInvalide, "Requête invalide : "+err.Error())
	}
	if err := checkUser(c.account, in.IDUtilisateurCourant); err != nil {
		return refusal(err.code, err.libelle)
	}
	c.rec.NumeroFacture, c.rec.NumeroFluxDepot, c.rec.IDFournisseur = in.NumeroFacture, in.NumeroFluxDepot, in.IDFournisseur
	var from, to time.Time
	for _, p := range []struct {
		v   string
		dst *time.Time
	}{{in.PeriodeDateDepotDu, &from}, {in.PeriodeDateDepotAu, &to}} {
		if p.v == "" {
			continue
		}
		t, err := time.Parse(dateLayout, p.v)
		if err != nil {
			return refusal(CodeRequeteInvalide, fmt.Sprintf("La date %q est invalide (AAAA-MM-JJ attendu)", p.v))
		}
		*p.dst = t
	}
	var found []*invoice
	for _, inv := range e.invoiceOrder {
		if !inv.visible(c.account, c.now) {
			continue
		}
		steps, _ := inv.reached(c.now, e.cfg.Step)
		day, _ := time.Parse(dateLayout, inv.depositAt.Format(dateLayout))
		switch {
		case in.IDFournisseur != 0 && inv.idFournisseur != in.IDFournisseur,
			in.NumeroFacture != "" && inv.numero != in.NumeroFacture,
			in.NumeroFluxDepot != "" && inv.numeroFluxDepot != in.NumeroFluxDepot,
			in.TypeFacture != "" && inv.typeFacture != in.TypeFacture,
			len(in.StatutCourant) > 0 && !slices.Contains(in.StatutCourant, steps[len(steps)-1].status),
			!from.IsZero() && day.Before(from),
			!to.IsZero() && day.After(to):
			continue
		}
		found = append(found, inv)
	}
	p := in.RechercheFactureParFournisseur
	less := func(a, b *invoice) bool { return a.id < b.id }
	if p != nil {
		switch strings.ToLower(p.TriColonne) {
		case "numerofacture":
			less = func(a, b *invoice) bool { return a.numero < b.numero }
		case "datedepot":
			less = func(a, b *invoice) bool { return a.depositAt.Before(b.depositAt) }
		}
	}
	desc := p.descending()
	sort.SliceStable(found, func(i, j int) bool {
		if desc {
			return less(found[j], found[i])
		}
		return less(found[i], found[j])
	})
	start, end, pr := p.page(len(found))
	out := rechercherOut{retour: ok(), ListeFactures: []factureTrouvee{}, ParametresRetour: pr}
	for _, inv := range found[start:end] {
		steps, dates := inv.reached(c.now, e.cfg.Step)
		last := len(steps) - 1
		out.ListeFactures = append(out.ListeFactures, factureTrouvee{
			IdentifiantFactureCPP:   inv.id,
			NumeroFacture:           inv.numero,
			Statut:                  steps[last].status,
			NumeroFluxDepot:         inv.numeroFluxDepot,
			DateDepot:               inv.depositAt.Format(dateLayout),
			DateFacture:             inv.dateFacture,
			DateHeureEtatCourant:    dates[last].Format(dateTimeLayout),
			CommentaireEtatCourant:  steps[last].comment,
			ModeDepot:               inv.modeDepot,
			TypeFacture:             inv.typeFacture,
			Devise:                  inv.devise,
			MontantHT:               json.Number(inv.ht),
			MontantTTC:              json.Number(inv.ttc),
			MontantAPayer:           json.Number(inv.aPayer),
			IDDestinataire:          inv.recipient.IDStructureCPP,
			CodeDestinataire:        inv.recipient.SIRET,
			DesignationDestinataire: inv.recipient.Designation,
			CodeServiceExecutant:    inv.codeService,
			IDFournisseur:           inv.idFournisseur,
			CodeFournisseur:         e.suppliers[inv.idFournisseur].SIRET,
		})
	}
	return http.StatusOK, out
}
