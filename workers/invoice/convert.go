package invoice

import (
	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
)

// Defaults applied to optional invoice fields.
const (
	defaultFramework = "A1_FACTURE_FOURNISSEUR"
	defaultCurrency  = "EUR"
	defaultType      = "FACTURE"
)

// soumettreRequest maps an invoice.submit to Chorus Pro's soumettre request.
// pieceJointeID is the deposited PDF (pdf mode), 0 otherwise.
func soumettreRequest(sub *events.InvoiceSubmit, acct *Account, pieceJointeID int64) choruspro.SoumettreRequest {
	inv := sub.Invoice
	req := choruspro.SoumettreRequest{
		ModeDepot:            choruspro.ModeDepotSaisieAPI,
		NumeroFactureSaisi:   inv.Number,
		DateFacture:          inv.Date,
		IDUtilisateurCourant: acct.UserID,
		Commentaire:          inv.Comment,
		CadreDeFacturation:   choruspro.CadreDeFacturation{CodeCadreFacturation: orDefault(inv.Framework, defaultFramework)},
		Fournisseur:          choruspro.Fournisseur{IDFournisseur: acct.SupplierID},
		References: choruspro.References{
			DeviseFacture:       orDefault(inv.Currency, defaultCurrency),
			TypeFacture:         orDefault(inv.Type, defaultType),
			TypeTva:             inv.VATType,
			ModePaiement:        inv.PaymentMode,
			NumeroBonCommande:   inv.PurchaseOrder,
			NumeroMarche:        inv.Contract,
			MotifExonerationTva: inv.VATExemptionReason,
		},
	}
	if inv.BankAccountCode != nil {
		req.Fournisseur.CodeCoordonneesBancairesFournisseur = *inv.BankAccountCode
	}
	if inv.SupplierServiceID != nil {
		req.Fournisseur.IDServiceFournisseur = *inv.SupplierServiceID
	}
	if inv.Recipient != nil {
		req.Destinataire = choruspro.Destinataire{CodeDestinataire: inv.Recipient.SIRET, CodeServiceExecutant: inv.Recipient.ServiceCode}
	}
	for i, l := range inv.Lines {
		req.LignePoste = append(req.LignePoste, choruspro.LignePoste{
			LignePosteNumero:            i + 1,
			LignePosteReference:         l.Reference,
			LignePosteDenomination:      l.Designation,
			LignePosteQuantite:          l.Quantity,
			LignePosteUnite:             l.Unit,
			LignePosteMontantUnitaireHT: l.UnitPrice,
			LignePosteMontantRemiseHT:   l.Discount,
			LignePosteTauxTvaManuel:     l.VATRate,
		})
	}
	for _, v := range inv.VAT {
		req.LigneTva = append(req.LigneTva, choruspro.LigneTva{
			LigneTvaTauxManuel:           v.Rate,
			LigneTvaMontantBaseHtParTaux: v.Base,
			LigneTvaMontantTvaParTaux:    v.Amount,
		})
	}
	if t := inv.Totals; t != nil {
		req.MontantTotal = choruspro.MontantTotal{
			MontantHtTotal:          t.Net,
			MontantTVA:              t.VAT,
			MontantTtcTotal:         t.Gross,
			MontantRemiseGlobaleTTC: t.Discount,
			MontantAPayer:           t.Payable,
		}
	}
	if sub.Mode == events.ModePDF {
		req.ModeDepot = choruspro.ModeDepotPDFAPI
		req.PieceJointePrincipale = []choruspro.PieceJointePrincipale{{
			PieceJointePrincipaleDesignation: sub.Document.FileName,
			PieceJointePrincipaleID:          pieceJointeID,
		}}
	}
	return req
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
