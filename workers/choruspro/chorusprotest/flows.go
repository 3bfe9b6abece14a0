package chorusprotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// flow is a deposited flow. Its outcome is decided at deposit time and shown
// once the clock reaches it.
type flow struct {
	numero        string
	nomFichier    string
	syntaxe       string
	idFournisseur int64
	depositAt     time.Time
	final         string
	erreursDP     []erreurDP
	erreursTech   []erreurTechnique
}

// erreurDP is the rejection of one invoice of a flow.
type erreurDP struct {
	NumeroDP                string `json:"numeroDP"`
	IdentifiantFournisseur  string `json:"identifiantFournisseur"`
	IdentifiantDestinataire string `json:"identifiantDestinataire"`
	LibelleErreurDP         string `json:"libelleErreurDP"`
}

// erreurTechnique is a technical error rejecting a flow.
type erreurTechnique struct {
	CodeErreur    string `json:"codeErreur"`
	LibelleErreur string `json:"libelleErreur"`
	NatureErreur  string `json:"natureErreur"`
}

// deposerFluxIn is the body of factures/v1/deposer/flux.
type deposerFluxIn struct {
	FichierFlux          string `json:"fichierFlux"`
	NomFichier           string `json:"nomFichier"`
	SyntaxeFlux          string `json:"syntaxeFlux"`
	AvecSignature        bool   `json:"avecSignature"`
	IDUtilisateurCourant int64  `json:"idUtilisateurCourant"`
}

// deposerFluxOut is the answer of factures/v1/deposer/flux.
type deposerFluxOut struct {
	retour
	NumeroFluxDepot string `json:"numeroFluxDepot"`
	DateDepot       string `json:"dateDepot"`
	SyntaxeFlux     string `json:"syntaxeFlux"`
}

// deposerFlux serves factures/v1/deposer/flux. The flow is read at once;
// its invoices are checked like soumettre's and those accepted become
// visible, in DEPOSEE, when the flow reaches its final state.
func (e *Emulator) deposerFlux(c *callCtx) (int, any) {
	var in deposerFluxIn
	if err := json.Unmarshal(c.body, &in); err != nil {
		return refusal(CodeRequeteInvalide, "Requête invalide : "+err.Error())
	}
	if err := checkUser(c.account, in.IDUtilisateurCourant); err != nil {
		return refusal(err.code, err.libelle)
	}
	if _, known := syntaxKinds()[in.SyntaxeFlux]; !known {
		return refusal(CodeRequeteInvalide, fmt.Sprintf("La syntaxe de flux %q est inconnue", in.SyntaxeFlux))
	}
	if ferr := checkFileName(in.NomFichier, []string{"xml", "pdf", "gz", "tgz", "zip"}); ferr != nil {
		return ferr.answer()
	}
	data, ferr := decodeFile("fichierFlux", in.FichierFlux)
	if ferr != nil {
		return ferr.answer()
	}
	if len(e.flows) >= e.cfg.MaxObjects || len(e.invoices) >= e.cfg.MaxObjects {
		return refusal(CodeQuotaAtteint, "L'émulateur a atteint son nombre maximal de flux")
	}
	e.nextFlow++
	f := &flow{
		numero:        fmt.Sprintf("CPP001111%016d", e.nextFlow),
		nomFichier:    in.NomFichier,
		syntaxe:       in.SyntaxeFlux,
		idFournisseur: c.account.IDFournisseurs[0],
		depositAt:     c.now,
	}
	e.flows[f.numero] = f
	c.rec.NumeroFluxDepot, c.rec.IDFournisseur, c.rec.Applied = f.numero, f.idFournisseur, true

	docs, techErr := parseFlow(data, in.SyntaxeFlux)
	if techErr != nil {
		f.final = flowRejete
		f.erreursTech = []erreurTechnique{{CodeErreur: techErr.code, LibelleErreur: techErr.libelle, NatureErreur: "TECHNIQUE"}}
	} else {
		e.integrate(f, docs, c)
	}
	return http.StatusOK, deposerFluxOut{retour: ok(), NumeroFluxDepot: f.numero, DateDepot: c.now.Format(dateLayout), SyntaxeFlux: f.syntaxe}
}

// integrate checks each invoice of a flow and creates those accepted,
// visible from the flow's final state; it sets the flow's outcome.
func (e *Emulator) integrate(f *flow, docs []invoiceDoc, c *callCtx) {
	pending := map[invoiceKey]bool{}
	var numeros []string
	accepted := 0
	for _, d := range docs {
		numeros = append(numeros, d.numero)
		supplier := f.idFournisseur
		for _, id := range c.account.IDFournisseurs {
			if s := e.suppliers[id]; d.seller != "" && s.SIRET == d.seller {
				supplier = id
			}
		}
		rcp, berr := e.checkDraft(draft{
			idFournisseur: supplier,
			numero:        d.numero,
			recipient:     d.buyer,
			codeService:   d.service,
			engagement:    d.engagement,
			ht:            d.ht, tva: d.tva, ttc: d.ttc,
		}, pending)
		if berr != nil {
			f.erreursDP = append(f.erreursDP, erreurDP{
				NumeroDP:                d.numero,
				IdentifiantFournisseur:  e.suppliers[supplier].SIRET,
				IdentifiantDestinataire: d.buyer,
				LibelleErreurDP:         fmt.Sprintf("%d - %s", berr.code, berr.libelle),
			})
			continue
		}
		pending[invoiceKey{supplier, d.numero}] = true
		accepted++
		inv := &invoice{
			numero:          d.numero,
			idFournisseur:   supplier,
			recipient:       rcp,
			codeService:     d.service,
			engagement:      d.engagement,
			dateFacture:     d.date,
			modeDepot:       "DEPOT_FLUX",
			typeFacture:     d.typeFacture(),
			devise:          orDefault(d.currency, "EUR"),
			ht:              d.ht,
			tva:             d.tva,
			ttc:             d.ttc,
			aPayer:          orDefault(d.due, d.ttc),
			numeroFluxDepot: f.numero,
			depositAt:       f.depositAt.Add(flowStepsBeforeFinal * e.cfg.Step),
			plan:            planFor(d.numero),
		}
		e.addInvoice(inv)
		if len(docs) == 1 {
			c.rec.IdentifiantFactureCPP = inv.id
		}
	}
	c.rec.NumeroFacture = strings.Join(numeros, ",")
	switch {
	case accepted == len(docs):
		f.final = flowIntegre
	case accepted > 0:
		f.final = flowIntegrePartiel
	default:
		f.final = flowRejete
	}
}

// consulterCRIn is the body of transverses/v1/consulterCRDetaille.
type consulterCRIn struct {
	NumeroFluxDepot string `json:"numeroFluxDepot"`
	SyntaxeFlux     string `json:"syntaxeFlux"`
}

// consulterCROut is the answer of transverses/v1/consulterCRDetaille.
type consulterCROut struct {
	retour
	NumeroFluxDepot          string            `json:"numeroFluxDepot"`
	EtatCourantDepotFlux     string            `json:"etatCourantDepotFlux"`
	DateHeureEtatCourantFlux string            `json:"dateHeureEtatCourantFlux"`
	DateDepotFlux            string            `json:"dateDepotFlux"`
	CodeInterfaceDepotFlux   string            `json:"codeInterfaceDepotFlux"`
	NomFichier               string            `json:"nomFichier"`
	ListeErreurDP            []erreurDP        `json:"listeErreurDP,omitempty"`
	ListeErreurTechnique     []erreurTechnique `json:"listeErreurTechnique,omitempty"`
}

// consulterCRDetaille serves transverses/v1/consulterCRDetaille: the flow's
// state by the clock, and its errors once final.
func (e *Emulator) consulterCRDetaille(c *callCtx) (int, any) {
	var in consulterCRIn
	if err := json.Unmarshal(c.body, &in); err != nil {
		return refusal(CodeRequeteInvalide, "Requête invalide : "+err.Error())
	}
	c.rec.NumeroFluxDepot = in.NumeroFluxDepot
	f := e.flows[in.NumeroFluxDepot]
	if f == nil || !slices.Contains(c.account.IDFournisseurs, f.idFournisseur) {
		return refusal(CodeFluxInconnu, fmt.Sprintf("Le flux %s n'existe pas", in.NumeroFluxDepot))
	}
	c.rec.IDFournisseur = f.idFournisseur
	state, at := f.state(c.now, e.cfg.Step)
	out := consulterCROut{
		retour:                   ok(),
		NumeroFluxDepot:          f.numero,
		EtatCourantDepotFlux:     state,
		DateHeureEtatCourantFlux: at.Format(dateTimeLayout),
		DateDepotFlux:            f.depositAt.Format(dateTimeLayout),
		CodeInterfaceDepotFlux:   f.syntaxe,
		NomFichier:               f.nomFichier,
	}
	if state == f.final {
		out.ListeErreurDP, out.ListeErreurTechnique = f.erreursDP, f.erreursTech
	}
	return http.StatusOK, out
}
