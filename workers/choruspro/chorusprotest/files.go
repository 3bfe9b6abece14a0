package chorusprotest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"unicode/utf8"
)

// File limits, as Chorus Pro applies them.
const (
	maxFileBytes    = 10 * 1024 * 1024
	maxFileNameRune = 50
)

// fileError is a refused file: the status to answer (400 or 413) and why.
type fileError struct {
	status  int
	libelle string
}

// answer turns the refusal into a handler's answer.
func (f *fileError) answer() (int, any) {
	return f.status, retour{CodeRetour: CodeFichierInvalide, Libelle: f.libelle}
}

// decodeFile decodes a base64 file field. Line breaks are refused, as
// Chorus Pro misreads them.
func decodeFile(field, b64 string) ([]byte, *fileError) {
	if strings.ContainsAny(b64, "\r\n") {
		return nil, &fileError{http.StatusBadRequest, fmt.Sprintf("Le fichier %s est mal encodé : le base64 ne doit pas contenir de retour à la ligne", field)}
	}
	if decodedLen(b64) > maxFileBytes {
		return nil, &fileError{http.StatusRequestEntityTooLarge, fmt.Sprintf("Le fichier %s dépasse la taille maximale de 10 Mo", field)}
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, &fileError{http.StatusBadRequest, fmt.Sprintf("Le fichier %s n'est pas un base64 valide", field)}
	}
	if len(data) == 0 {
		return nil, &fileError{http.StatusBadRequest, fmt.Sprintf("Le fichier %s est vide", field)}
	}
	if len(data) > maxFileBytes {
		return nil, &fileError{http.StatusRequestEntityTooLarge, fmt.Sprintf("Le fichier %s dépasse la taille maximale de 10 Mo", field)}
	}
	return data, nil
}

// decodedLen is the size of the file a padded base64 string encodes.
func decodedLen(b64 string) int {
	n := len(b64) / 4 * 3
	for i := len(b64) - 1; i >= 0 && i >= len(b64)-2 && b64[i] == '='; i-- {
		n--
	}
	return n
}

// checkFileName checks a file name: at most 50 characters, an allowed
// extension, no path.
func checkFileName(name string, allowed []string) *fileError {
	switch {
	case name == "":
		return &fileError{http.StatusBadRequest, "Le nom du fichier est obligatoire"}
	case utf8.RuneCountInString(name) > maxFileNameRune:
		return &fileError{http.StatusBadRequest, fmt.Sprintf("Le nom du fichier dépasse %d caractères", maxFileNameRune)}
	case strings.ContainsAny(name, `/\`):
		return &fileError{http.StatusBadRequest, "Le nom du fichier ne doit pas contenir de chemin"}
	}
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	if !slices.Contains(allowed, ext) {
		return &fileError{http.StatusBadRequest, fmt.Sprintf("L'extension %q n'est pas autorisée (%s)", ext, strings.Join(allowed, ", "))}
	}
	return nil
}

// attachment is a deposited PDF; its content is not kept.
type attachment struct {
	id    int64
	name  string
	size  int
	login string
}

// deposerPDFIn is the body of factures/v1/deposer/pdf.
type deposerPDFIn struct {
	IDUtilisateurCourant int64  `json:"idUtilisateurCourant"`
	FichierFacture       string `json:"fichierFacture"`
	FormatDepot          string `json:"formatDepot"`
	NomFichier           string `json:"nomFichier"`
}

// deposerPDFOut is the answer of factures/v1/deposer/pdf: the attachment id
// and the fields "read" from the PDF (from its embedded Factur-X XML).
type deposerPDFOut struct {
	retour
	PieceJointeID        int64       `json:"pieceJointeId"`
	NumeroFacture        string      `json:"numeroFacture,omitempty"`
	DateFacture          string      `json:"dateFacture,omitempty"`
	CodeDestinataire     string      `json:"codeDestinataire,omitempty"`
	CodeServiceExecutant string      `json:"codeServiceExecutant,omitempty"`
	CodeFournisseur      string      `json:"codeFournisseur,omitempty"`
	CodeDeviseFacture    string      `json:"codeDeviseFacture,omitempty"`
	TypeFacture          string      `json:"typeFacture,omitempty"`
	NumeroBonCommande    string      `json:"numeroBonCommande,omitempty"`
	MontantHtTotal       json.Number `json:"montantHtTotal,omitempty"`
	MontantTVA           json.Number `json:"montantTVA,omitempty"`
	MontantTtcTotal      json.Number `json:"montantTtcTotal,omitempty"`
	MontantAPayer        json.Number `json:"montantAPayer,omitempty"`
}

// deposerPDF serves factures/v1/deposer/pdf.
func (e *Emulator) deposerPDF(c *callCtx) (int, any) {
	var in deposerPDFIn
	if err := json.Unmarshal(c.body, &in); err != nil {
		return refusal(CodeRequeteInvalide, "Requête invalide : "+err.Error())
	}
	if err := checkUser(c.account, in.IDUtilisateurCourant); err != nil {
		return refusal(err.code, err.libelle)
	}
	switch in.FormatDepot {
	case "PDF_NON_SIGNE", "PDF_SIGNE_PADES", "PDF_SIGNE_XADES":
	default:
		return refusal(CodeRequeteInvalide, fmt.Sprintf("Le format de dépôt %q est invalide (PDF_NON_SIGNE...)", in.FormatDepot))
	}
	if ferr := checkFileName(in.NomFichier, []string{"pdf"}); ferr != nil {
		return ferr.answer()
	}
	data, ferr := decodeFile("fichierFacture", in.FichierFacture)
	if ferr != nil {
		return ferr.answer()
	}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return refusal(CodeFichierInvalide, "Le fichier fichierFacture n'est pas un PDF")
	}
	if len(e.attachments) >= e.cfg.MaxObjects {
		return refusal(CodeQuotaAtteint, "L'émulateur a atteint son nombre maximal de pièces jointes")
	}
	e.nextAttach++
	a := &attachment{id: e.nextAttach, name: in.NomFichier, size: len(data), login: c.account.Login}
	e.attachments[a.id] = a
	c.rec.PieceJointeID, c.rec.Applied = a.id, true
	out := deposerPDFOut{retour: ok(), PieceJointeID: a.id}
	if xml, found := embeddedCII(data); found {
		if d, err := parseInvoiceXML(xml); err == nil {
			c.rec.NumeroFacture = d.numero
			out.NumeroFacture, out.DateFacture, out.CodeDestinataire = d.numero, d.date, d.buyer
			out.CodeServiceExecutant, out.CodeFournisseur, out.CodeDeviseFacture = d.service, d.seller, d.currency
			out.TypeFacture, out.NumeroBonCommande = d.typeFacture(), d.engagement
			out.MontantHtTotal, out.MontantTVA, out.MontantTtcTotal = json.Number(d.ht), json.Number(d.tva), json.Number(d.ttc)
			out.MontantAPayer = json.Number(orDefault(d.due, d.ttc))
		}
	}
	return http.StatusOK, out
}
