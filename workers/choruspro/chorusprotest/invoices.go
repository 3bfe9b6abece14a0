package chorusprotest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"time"
)

// invoice is an invoice known to the emulator.
type invoice struct {
	id              int64
	numero          string
	idFournisseur   int64
	recipient       *Recipient
	codeService     string
	engagement      string
	dateFacture     string
	modeDepot       string
	typeFacture     string
	devise          string
	ht, tva, ttc    string
	aPayer          string
	numeroFluxDepot string
	depositAt       time.Time // when it becomes visible, in DEPOSEE
	plan            []planStep
}

// invoiceKey identifies an invoice for the duplicate rule.
type invoiceKey struct {
	idFournisseur int64
	numero        string
}

// draft is what the business rules check, from soumettre or from a flow.
type draft struct {
	idFournisseur int64
	numero        string
	recipient     string // SIRET
	codeService   string
	engagement    string
	ht, tva, ttc  string
	// amountsRequired refuses missing totals (soumettre); flows check them
	// only when all three are present.
	amountsRequired bool
}

// bizError is a business refusal.
type bizError struct {
	code    int
	libelle string
}

// checkDraft applies Chorus Pro's rules to d. pending holds the numbers
// already taken in the same flow.
func (e *Emulator) checkDraft(d draft, pending map[invoiceKey]bool) (*Recipient, *bizError) {
	if d.numero == "" {
		return nil, &bizError{CodeRequeteInvalide, "Le numéro de facture est obligatoire"}
	}
	if d.recipient == "" {
		return nil, &bizError{CodeDestinataireInconnu, "Le destinataire (codeDestinataire) est obligatoire"}
	}
	ref := e.bySIRET[d.recipient]
	if ref.recipient == nil {
		return nil, &bizError{CodeDestinataireInconnu, fmt.Sprintf("Le destinataire %s n'existe pas ou n'est pas actif dans Chorus Pro", d.recipient)}
	}
	rcp := ref.recipient
	if d.codeService != "" && !slices.ContainsFunc(rcp.Services, func(s Service) bool { return s.CodeService == d.codeService && s.EstActif }) {
		return nil, &bizError{CodeServiceInconnu, fmt.Sprintf("Le service %s n'existe pas ou n'est pas actif pour le destinataire %s", d.codeService, d.recipient)}
	}
	switch {
	case rcp.CodeServiceDoitEtreRenseigne && d.codeService == "":
		return nil, &bizError{CodeServiceObligatoire, fmt.Sprintf("Le code service est obligatoire pour le destinataire %s", d.recipient)}
	case rcp.NumeroEJDoitEtreRenseigne && d.engagement == "":
		return nil, &bizError{CodeEngagementObligatoire, fmt.Sprintf("Le numéro d'engagement est obligatoire pour le destinataire %s", d.recipient)}
	case rcp.GestionNumeroEJOuCodeService && d.engagement == "" && d.codeService == "":
		return nil, &bizError{CodeEngagementObligatoire, fmt.Sprintf("Le numéro d'engagement ou le code service doit être renseigné pour le destinataire %s", d.recipient)}
	}
	if err := checkTotals(d); err != nil {
		return nil, err
	}
	key := invoiceKey{d.idFournisseur, d.numero}
	if e.byNumber[key] != nil || pending[key] {
		return nil, &bizError{CodeFactureEnDoublon, fmt.Sprintf("La facture n°%s existe déjà pour ce fournisseur", d.numero)}
	}
	return rcp, nil
}

// checkTotals checks montantHtTotal + montantTVA = montantTtcTotal with exact
// decimals.
func checkTotals(d draft) *bizError {
	if d.ht == "" || d.tva == "" || d.ttc == "" {
		if d.amountsRequired {
			return &bizError{CodeRequeteInvalide, "Les montants montantHtTotal, montantTVA et montantTtcTotal sont obligatoires"}
		}
		return nil
	}
	var ht, tva, ttc big.Rat
	if _, ok := ht.SetString(d.ht); !ok {
		return &bizError{CodeRequeteInvalide, fmt.Sprintf("Le montant HT %q est invalide", d.ht)}
	}
	if _, ok := tva.SetString(d.tva); !ok {
		return &bizError{CodeRequeteInvalide, fmt.Sprintf("Le montant de TVA %q est invalide", d.tva)}
	}
	if _, ok := ttc.SetString(d.ttc); !ok {
		return &bizError{CodeRequeteInvalide, fmt.Sprintf("Le montant TTC %q est invalide", d.ttc)}
	}
	var sum big.Rat
	if sum.Add(&ht, &tva).Cmp(&ttc) != 0 {
		return &bizError{CodeMontantsIncoherents, fmt.Sprintf("Le montant TTC (%s) n'est pas égal à la somme du montant HT (%s) et du montant de TVA (%s)", d.ttc, d.ht, d.tva)}
	}
	return nil
}

// addInvoice stores a new invoice. Callers hold e.mu and checked the quota.
func (e *Emulator) addInvoice(inv *invoice) {
	e.nextInvoice++
	inv.id = e.nextInvoice
	e.invoices[inv.id] = inv
	e.invoiceOrder = append(e.invoiceOrder, inv)
	e.byNumber[invoiceKey{inv.idFournisseur, inv.numero}] = inv
}

// mine reports whether the account may see the invoice, at now.
func (inv *invoice) visible(acct *TechnicalAccount, now time.Time) bool {
	return !inv.depositAt.After(now) && slices.Contains(acct.IDFournisseurs, inv.idFournisseur)
}

// checkUser refuses an idUtilisateurCourant that is not the account's.
func checkUser(acct *TechnicalAccount, id int64) *bizError {
	if id != 0 && id != acct.IDUtilisateur {
		return &bizError{CodeFournisseurNonRattache, fmt.Sprintf("L'utilisateur %d ne correspond pas au compte technique", id)}
	}
	return nil
}

// soumettreIn is the body of factures/v1/soumettre.
type soumettreIn struct {
	ModeDepot            string `json:"modeDepot"`
	NumeroFactureSaisi   string `json:"numeroFactureSaisi"`
	DateFacture          string `json:"dateFacture"`
	IDUtilisateurCourant int64  `json:"idUtilisateurCourant"`
	Commentaire          string `json:"commentaire"`
	CadreDeFacturation   struct {
		CodeCadreFacturation string `json:"codeCadreFacturation"`
	} `json:"cadreDeFacturation"`
	Destinataire struct {
		CodeDestinataire     string `json:"codeDestinataire"`
		CodeServiceExecutant string `json:"codeServiceExecutant"`
	} `json:"destinataire"`
	Fournisseur struct {
		IDFournisseur int64 `json:"idFournisseur"`
	} `json:"fournisseur"`
	References struct {
		DeviseFacture     string `json:"deviseFacture"`
		TypeFacture       string `json:"typeFacture"`
		NumeroBonCommande string `json:"numeroBonCommande"`
	} `json:"references"`
	MontantTotal struct {
		MontantHtTotal  json.Number `json:"montantHtTotal"`
		MontantTVA      json.Number `json:"montantTVA"`
		MontantTtcTotal json.Number `json:"montantTtcTotal"`
		MontantAPayer   json.Number `json:"montantAPayer"`
	} `json:"montantTotal"`
	PieceJointePrincipale []struct {
		PieceJointePrincipaleID int64 `json:"pieceJointePrincipaleId"`
	} `json:"pieceJointePrincipale"`
}

// soumettreOut is the answer of factures/v1/soumettre.
type soumettreOut struct {
	retour
	IdentifiantFactureCPP    int64  `json:"identifiantFactureCPP"`
	NumeroFacture            string `json:"numeroFacture"`
	StatutFacture            string `json:"statutFacture"`
	DateDepot                string `json:"dateDepot"`
	IdentifiantStructure     string `json:"identifiantStructure"`
	EmpreinteCertificatDepot string `json:"empreinteCertificatDepot"`
}

// soumettre serves factures/v1/soumettre.
func (e *Emulator) soumettre(c *callCtx) (int, any) {
	var in soumettreIn
	if err := json.Unmarshal(c.body, &in); err != nil {
		return refusal(CodeRequeteInvalide, "Requête invalide : "+err.Error())
	}
	c.rec.NumeroFacture, c.rec.IDFournisseur = in.NumeroFactureSaisi, in.Fournisseur.IDFournisseur
	if err := checkUser(c.account, in.IDUtilisateurCourant); err != nil {
		return refusal(err.code, err.libelle)
	}
	switch in.ModeDepot {
	case "SAISIE_API", "DEPOT_PDF_API", "DEPOT_PDF_SIGNE_API":
	default:
		return refusal(CodeRequeteInvalide, fmt.Sprintf("Le mode de dépôt %q est invalide (SAISIE_API, DEPOT_PDF_API, DEPOT_PDF_SIGNE_API)", in.ModeDepot))
	}
	if in.CadreDeFacturation.CodeCadreFacturation == "" {
		return refusal(CodeRequeteInvalide, "Le cadre de facturation (codeCadreFacturation) est obligatoire")
	}
	if _, err := time.Parse(dateLayout, in.DateFacture); err != nil {
		return refusal(CodeRequeteInvalide, fmt.Sprintf("La date de facture %q est invalide (AAAA-MM-JJ attendu)", in.DateFacture))
	}
	if !slices.Contains(c.account.IDFournisseurs, in.Fournisseur.IDFournisseur) {
		return refusal(CodeFournisseurNonRattache, fmt.Sprintf("Le compte technique n'est pas rattaché à la structure fournisseur %d", in.Fournisseur.IDFournisseur))
	}
	if in.ModeDepot != "SAISIE_API" && len(in.PieceJointePrincipale) == 0 {
		return refusal(CodePieceJointeInconnue, "La pièce jointe principale est obligatoire pour le mode de dépôt "+in.ModeDepot)
	}
	for _, pj := range in.PieceJointePrincipale {
		if a := e.attachments[pj.PieceJointePrincipaleID]; a == nil || a.login != c.account.Login {
			return refusal(CodePieceJointeInconnue, fmt.Sprintf("La pièce jointe %d n'existe pas", pj.PieceJointePrincipaleID))
		}
	}
	rcp, berr := e.checkDraft(draft{
		idFournisseur:   in.Fournisseur.IDFournisseur,
		numero:          in.NumeroFactureSaisi,
		recipient:       in.Destinataire.CodeDestinataire,
		codeService:     in.Destinataire.CodeServiceExecutant,
		engagement:      in.References.NumeroBonCommande,
		ht:              string(in.MontantTotal.MontantHtTotal),
		tva:             string(in.MontantTotal.MontantTVA),
		ttc:             string(in.MontantTotal.MontantTtcTotal),
		amountsRequired: true,
	}, nil)
	if berr != nil {
		return refusal(berr.code, berr.libelle)
	}
	if len(e.invoices) >= e.cfg.MaxObjects {
		return refusal(CodeQuotaAtteint, "L'émulateur a atteint son nombre maximal de factures")
	}
	inv := &invoice{
		numero:        in.NumeroFactureSaisi,
		idFournisseur: in.Fournisseur.IDFournisseur,
		recipient:     rcp,
		codeService:   in.Destinataire.CodeServiceExecutant,
		engagement:    in.References.NumeroBonCommande,
		dateFacture:   in.DateFacture,
		modeDepot:     in.ModeDepot,
		typeFacture:   orDefault(in.References.TypeFacture, "FACTURE"),
		devise:        orDefault(in.References.DeviseFacture, "EUR"),
		ht:            string(in.MontantTotal.MontantHtTotal),
		tva:           string(in.MontantTotal.MontantTVA),
		ttc:           string(in.MontantTotal.MontantTtcTotal),
		aPayer:        orDefault(string(in.MontantTotal.MontantAPayer), string(in.MontantTotal.MontantTtcTotal)),
		depositAt:     c.now,
		plan:          planFor(in.NumeroFactureSaisi, in.Commentaire),
	}
	e.addInvoice(inv)
	c.rec.IdentifiantFactureCPP, c.rec.Applied = inv.id, true
	sum := sha256.Sum256(fmt.Appendf(nil, "%d|%d|%s", inv.id, inv.idFournisseur, inv.numero))
	return http.StatusOK, soumettreOut{
		retour:                   ok(),
		IdentifiantFactureCPP:    inv.id,
		NumeroFacture:            inv.numero,
		StatutFacture:            statusDeposee,
		DateDepot:                c.now.Format(dateLayout),
		IdentifiantStructure:     e.suppliers[inv.idFournisseur].SIRET,
		EmpreinteCertificatDepot: hex.EncodeToString(sum[:]),
	}
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// historiqueIn is the body of factures/v1/consulter/historique.
type historiqueIn struct {
	IDFacture            int64 `json:"idFacture"`
	IDUtilisateurCourant int64 `json:"idUtilisateurCourant"`
}

// histoStatut is one entry of an invoice's history.
type histoStatut struct {
	HistoStatutID          int64  `json:"histoStatutId"`
	HistoStatutCode        string `json:"histoStatutCode"`
	HistoStatutDatePassage string `json:"histoStatutDatePassage"`
	HistoStatutCommentaire string `json:"histoStatutCommentaire,omitempty"`
}

// historiqueOut is the answer of factures/v1/consulter/historique.
type historiqueOut struct {
	retour
	IDFacture             int64  `json:"idFacture"`
	NumeroFacture         string `json:"numeroFacture"`
	ModeDepot             string `json:"modeDepot"`
	StatutCourantCode     string `json:"statutCourantCode"`
	HistoriquesDesStatuts struct {
		HistoStatut                   []histoStatut `json:"histoStatut"`
		NbResultatsParPageHistoStatut int           `json:"nbResultatsParPageHistoStatut"`
		PageCouranteHistoStatut       int           `json:"pageCouranteHistoStatut"`
		PagesHistoStatut              int           `json:"pagesHistoStatut"`
		TotalHistoStatut              int           `json:"totalHistoStatut"`
	} `json:"historiquesDesStatuts"`
}

// consulterHistorique serves factures/v1/consulter/historique: the statuses
// reached so far, newest first (Chorus Pro's default order).
func (e *Emulator) consulterHistorique(c *callCtx) (int, any) {
	var in historiqueIn
	if err := json.Unmarshal(c.body, &in); err != nil {
		return refusal(CodeRequeteInvalide, "Requête invalide : "+err.Error())
	}
	if err := checkUser(c.account, in.IDUtilisateurCourant); err != nil {
		return refusal(err.code, err.libelle)
	}
	c.rec.IdentifiantFactureCPP = in.IDFacture
	inv := e.invoices[in.IDFacture]
	if inv == nil || !inv.visible(c.account, c.now) {
		return refusal(CodeFactureInconnue, fmt.Sprintf("La facture %d n'existe pas", in.IDFacture))
	}
	c.rec.NumeroFacture, c.rec.IDFournisseur = inv.numero, inv.idFournisseur
	steps, dates := inv.reached(c.now, e.cfg.Step)
	out := historiqueOut{retour: ok(), IDFacture: inv.id, NumeroFacture: inv.numero, ModeDepot: inv.modeDepot,
		StatutCourantCode: steps[len(steps)-1].status}
	for i := len(steps) - 1; i >= 0; i-- {
		out.HistoriquesDesStatuts.HistoStatut = append(out.HistoriquesDesStatuts.HistoStatut, histoStatut{
			HistoStatutID:          inv.id*100 + int64(i),
			HistoStatutCode:        steps[i].status,
			HistoStatutDatePassage: dates[i].Format(dateTimeLayout),
			HistoStatutCommentaire: steps[i].comment,
		})
	}
	n := len(steps)
	out.HistoriquesDesStatuts.NbResultatsParPageHistoStatut = n
	out.HistoriquesDesStatuts.PageCouranteHistoStatut = 1
	out.HistoriquesDesStatuts.PagesHistoStatut = 1
	out.HistoriquesDesStatuts.TotalHistoStatut = n
	return http.StatusOK, out
}
