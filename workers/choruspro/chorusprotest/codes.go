package chorusprotest

// LibelleOK is the libelle of a successful answer (codeRetour 0).
const LibelleOK = "GCU_MSG_01_000"

// The codeRetour values of the emulator's business refusals, answered with
// HTTP 400 and a French libelle. Chorus Pro's own numbering is not public in
// full; these codes are the emulator's, stable so that tests can match them.
const (
	// CodeRequeteInvalide: the JSON is malformed or a mandatory field is
	// missing or invalid (date, modeDepot, syntaxeFlux...).
	CodeRequeteInvalide = 20001
	// CodeDestinataireInconnu: codeDestinataire is not a known recipient.
	CodeDestinataireInconnu = 20002
	// CodeServiceObligatoire: the recipient requires a service code.
	CodeServiceObligatoire = 20003
	// CodeEngagementObligatoire: the recipient requires an engagement number
	// (or, with gestionNumeroEJOuCodeService, one of the two).
	CodeEngagementObligatoire = 20004
	// CodeServiceInconnu: codeServiceExecutant is unknown or inactive.
	CodeServiceInconnu = 20005
	// CodeMontantsIncoherents: montantHtTotal + montantTVA != montantTtcTotal.
	CodeMontantsIncoherents = 20006
	// CodePieceJointeInconnue: a pieceJointePrincipaleId is unknown, or a PDF
	// deposit mode has none.
	CodePieceJointeInconnue = 20007
	// CodeFactureEnDoublon: the supplier already has an invoice with this
	// number.
	CodeFactureEnDoublon = 20008
	// CodeFournisseurNonRattache: the technical account may not invoice for
	// this supplier, or idUtilisateurCourant is not the account's.
	CodeFournisseurNonRattache = 20009
	// CodeFichierInvalide: a file is not valid base64 (line breaks included),
	// is empty, has a bad name or extension, or is not what it claims.
	CodeFichierInvalide = 20010
	// CodeFactureInconnue: no such invoice for this account.
	CodeFactureInconnue = 20011
	// CodeFluxInconnu: no such flow for this account.
	CodeFluxInconnu = 20012
	// CodeStructureInconnue: no such structure.
	CodeStructureInconnue = 20013
	// CodeQuotaAtteint: the emulator holds Config.MaxObjects objects already.
	CodeQuotaAtteint = 20099
)
