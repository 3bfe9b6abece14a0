package choruspro

// FlowState is a flow's state (etatCourantDepotFlux), as reported by
// ConsulterCRDetaille.
type FlowState string

// Flow states. A flow goes IN_RECU → IN_EN_ATTENTE_TRAITEMENT_CPP →
// IN_EN_COURS_TRAITEMENT_CPP → IN_INTEGRE, IN_INTEGRE_PARTIEL or IN_REJETE.
// IN_INCIDENTE, IN_A_RELANCER and IN_ERREUR_INTERNE are platform-side
// incidents: the flow may be deposited again.
const (
	FlowRecu                FlowState = "IN_RECU"
	FlowEnAttenteTraitement FlowState = "IN_EN_ATTENTE_TRAITEMENT_CPP"
	FlowEnCoursTraitement   FlowState = "IN_EN_COURS_TRAITEMENT_CPP"
	FlowIntegre             FlowState = "IN_INTEGRE"
	FlowIntegrePartiel      FlowState = "IN_INTEGRE_PARTIEL"
	FlowRejete              FlowState = "IN_REJETE"
	FlowIncidente           FlowState = "IN_INCIDENTE"
	FlowARelancer           FlowState = "IN_A_RELANCER"
	FlowErreurInterne       FlowState = "IN_ERREUR_INTERNE"
)

// FlowFinal reports whether a flow in state s will not change any more:
// IN_INTEGRE, IN_INTEGRE_PARTIEL or IN_REJETE.
func FlowFinal(s FlowState) bool {
	switch s {
	case FlowIntegre, FlowIntegrePartiel, FlowRejete:
		return true
	}
	return false
}

// InvoiceStatus is an invoice's status (statut, statutFacture,
// statutCourantCode).
type InvoiceStatus string

// Invoice statuses. The usual path is DEPOSEE → EN_COURS_ACHEMINEMENT →
// MISE_A_DISPOSITION → PRISE_EN_COMPTE_DESTINATAIRE → SERVICE_FAIT →
// MANDATEE → MISE_EN_PAIEMENT; SUSPENDUE (to be completed, then COMPLETEE)
// and A_RECYCLER (recipient to be fixed) are detours; REJETEE ends it.
const (
	StatusDeposee                   InvoiceStatus = "DEPOSEE"
	StatusEnCoursAcheminement       InvoiceStatus = "EN_COURS_ACHEMINEMENT"
	StatusMiseADisposition          InvoiceStatus = "MISE_A_DISPOSITION"
	StatusPriseEnCompteDestinataire InvoiceStatus = "PRISE_EN_COMPTE_DESTINATAIRE"
	StatusServiceFait               InvoiceStatus = "SERVICE_FAIT"
	StatusMandatee                  InvoiceStatus = "MANDATEE"
	StatusMiseEnPaiement            InvoiceStatus = "MISE_EN_PAIEMENT"
	StatusSuspendue                 InvoiceStatus = "SUSPENDUE"
	StatusCompletee                 InvoiceStatus = "COMPLETEE"
	StatusARecycler                 InvoiceStatus = "A_RECYCLER"
	StatusRejetee                   InvoiceStatus = "REJETEE"
	StatusInterpreteeOCR            InvoiceStatus = "INTERPRETEE_OCR"
	StatusComptabilisee             InvoiceStatus = "COMPTABILISEE"
	StatusMiseADispositionComptable InvoiceStatus = "MISE_A_DISPOSITION_COMPTABLE"
	StatusAbandonnee                InvoiceStatus = "ABANDONNEE"
	StatusSupprimee                 InvoiceStatus = "SUPPRIMEE"
)

// InvoiceFinal reports whether following an invoice in status s can stop:
// MISE_EN_PAIEMENT, REJETEE, ABANDONNEE or SUPPRIMEE.
func InvoiceFinal(s InvoiceStatus) bool {
	switch s {
	case StatusMiseEnPaiement, StatusRejetee, StatusAbandonnee, StatusSupprimee:
		return true
	}
	return false
}

// SyntaxeFlux is the syntax of a deposited flow (syntaxeFlux).
type SyntaxeFlux string

// Flow syntaxes.
const (
	// SyntaxeUBL is a structured UBL 2.1 invoice (E1).
	SyntaxeUBL SyntaxeFlux = "IN_DP_E1_UBL_INVOICE"
	// SyntaxeCII is a structured UN/CEFACT CII D16B invoice (E1).
	SyntaxeCII SyntaxeFlux = "IN_DP_E1_CII_16B"
	// SyntaxeFacturX is a Factur-X PDF/A-3 with its CII XML embedded (E2).
	SyntaxeFacturX SyntaxeFlux = "IN_DP_E2_CII_FACTURX"
	// SyntaxeUBLMin is a minimal UBL invoice plus its PDF (E2).
	SyntaxeUBLMin SyntaxeFlux = "IN_DP_E2_UBL_INVOICE_MIN"
	// SyntaxeCIIMin is a minimal CII invoice plus its PDF (E2).
	SyntaxeCIIMin SyntaxeFlux = "IN_DP_E2_CII_MIN_16B"
	// SyntaxeCPPMin is Chorus Pro's minimal XML invoice plus its PDF (E2).
	SyntaxeCPPMin SyntaxeFlux = "IN_DP_E2_CPP_FACTURE_MIN"
	// SyntaxeUBLFraisDeJustice is a UBL legal-fee statement (E3).
	SyntaxeUBLFraisDeJustice SyntaxeFlux = "IN_DP_E3_UBL_INVOICE"
)

// Values of a few enumerated request fields.
const (
	// ModeDepotSaisieAPI submits an invoice entirely described by its fields.
	ModeDepotSaisieAPI = "SAISIE_API"
	// ModeDepotPDFAPI submits an invoice whose PDF was deposited first.
	ModeDepotPDFAPI = "DEPOT_PDF_API"
	// ModeDepotPDFSigneAPI is ModeDepotPDFAPI with a signed PDF.
	ModeDepotPDFSigneAPI = "DEPOT_PDF_SIGNE_API"
	// FormatDepotPDFNonSigne is the formatDepot of an unsigned PDF deposit.
	FormatDepotPDFNonSigne = "PDF_NON_SIGNE"
	// CadreFactureFournisseur is the usual billing frame of a supplier.
	CadreFactureFournisseur = "A1_FACTURE_FOURNISSEUR"
	// TypeFactureFacture and TypeFactureAvoir are the invoice types.
	TypeFactureFacture = "FACTURE"
	TypeFactureAvoir   = "AVOIR"
)
