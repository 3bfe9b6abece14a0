// Package chorusprotest is a stateful emulator of Chorus Pro, to test the
// choruspro client (and the workers using it) over real HTTP, in process with
// httptest or standalone with Serve / ListenAndServe.
//
// # Endpoints and authentication
//
// The emulator answers like Chorus Pro: same paths, methods, status codes,
// headers and JSON field names.
//
//   - POST /api/oauth/token: PISTE OAuth2 client credentials (form
//     grant_type=client_credentials, client_id, client_secret; or basic
//     authentication). Answers {"access_token","token_type":"Bearer",
//     "expires_in","scope":"openid"}; a wrong client gets 400
//     {"error":"invalid_client","error_description":...}.
//   - /cpro/<api>/v1/... (PISTE mode): Authorization: Bearer <token> and
//     cpro-account: base64(login:password). An unknown or expired token gets
//     401 (error="invalid_token"); an application not subscribed to the API
//     gets 403 with an empty body; a wrong technical account gets 401 with
//     WWW-Authenticate: Bearer realm="PISTE",error="Unauthorized",
//     error_description="login or password incorrects"; an expired password
//     gets 401 with error_description="technical account password expired".
//   - /service/<api>/v1/... and /service-qualif/<api>/v1/... (direct mode):
//     the same operations with HTTP basic authentication, plus a verified TLS
//     client certificate when Config.RequireClientCert.
//
// Operations: factures/v1/deposer/pdf, factures/v1/soumettre,
// factures/v1/deposer/flux, factures/v1/rechercher/fournisseur,
// factures/v1/consulter/historique, transverses/v1/consulterCRDetaille,
// GET transverses/v1/health-check, structures/v1/rechercher,
// structures/v1/consulter, structures/v1/rechercher/services. Success is
// codeRetour 0, libelle "GCU_MSG_01_000"; business refusals are HTTP 400
// with the codeRetour constants of this package (Code...) and a French
// libelle. A body above 16 MB or a file above 10 MB gets 413.
//
// # Seed data
//
// With an empty Config the emulator knows (constants Seed...):
//
//   - PISTE application SeedClientID / SeedClientSecret, subscribed to all
//     APIs;
//   - technical account SeedLogin / SeedPassword, user id
//     SeedIDUtilisateurCourant (33100001), attached to the supplier
//     SeedIDFournisseur (26300001, SIRET SeedSIRETFournisseur 88000001300016);
//   - recipient SeedSIRETServiceRequired (11000001500013, idStructureCPP
//     25400001): a service code is required; active service
//     SeedCodeServiceActif "FACTURES", inactive SeedCodeServiceInactif;
//   - recipient SeedSIRETEngagementRequired (11000002300017, 25400002): an
//     engagement number (references.numeroBonCommande) is required, any
//     value, e.g. SeedNumeroEngagement;
//   - recipient SeedSIRETNoRule (11000003100010, 25400003): nothing
//     required;
//   - recipient SeedSIRETServiceOrEngagement (11000004900012, 25400004): a
//     service code or an engagement number is required.
//
// # Business rules
//
// soumettre refuses, with HTTP 400: a malformed body, an unknown modeDepot,
// a missing codeCadreFacturation, an invalid dateFacture (YYYY-MM-DD), a
// supplier the account is not attached to (CodeFournisseurNonRattache), an
// idUtilisateurCourant that is not the account's, a PDF mode without
// pieceJointePrincipale or an unknown pieceJointePrincipaleId
// (CodePieceJointeInconnue), an unknown recipient SIRET
// (CodeDestinataireInconnu), an unknown or inactive service
// (CodeServiceInconnu), a missing service code or engagement number when
// the recipient requires it (CodeServiceObligatoire,
// CodeEngagementObligatoire), montantHtTotal + montantTVA != montantTtcTotal
// compared exactly (CodeMontantsIncoherents), and a second invoice with the
// same supplier and number (CodeFactureEnDoublon). deposer/pdf refuses a
// name longer than 50 characters or not ending in .pdf, base64 with line
// breaks, invalid base64, content not starting with %PDF- (CodeFichierInvalide)
// and files above 10 MB (413).
//
// # Lifecycles
//
// Nothing runs in the background: states are computed from Config.Now when
// read, one step every Config.Step. An invoice is DEPOSEE when submitted and
// then moves one status per step:
//
//	DEPOSEE → EN_COURS_ACHEMINEMENT → MISE_A_DISPOSITION →
//	PRISE_EN_COMPTE_DESTINATAIRE → SERVICE_FAIT → MANDATEE → MISE_EN_PAIEMENT
//
// unless its invoice number or its commentaire contains, case-insensitively,
// one of these keywords (the first in this order wins):
//
//	REJETEE     DEPOSEE → EN_COURS_ACHEMINEMENT → MISE_A_DISPOSITION → REJETEE
//	            (final, with a histoStatutCommentaire giving the reason)
//	ABANDONNEE  DEPOSEE → EN_COURS_ACHEMINEMENT → ABANDONNEE (final)
//	A_RECYCLER  DEPOSEE → EN_COURS_ACHEMINEMENT → A_RECYCLER →
//	            EN_COURS_ACHEMINEMENT → MISE_A_DISPOSITION → ... → MISE_EN_PAIEMENT
//	SUSPENDUE   DEPOSEE → EN_COURS_ACHEMINEMENT → MISE_A_DISPOSITION →
//	            SUSPENDUE → COMPLETEE → MISE_A_DISPOSITION → ... → MISE_EN_PAIEMENT
//
// (the detours resume by themselves: the emulator plays the supplier who
// completes or recycles). consulter/historique lists the statuses reached,
// newest first, each with its date and comment.
//
// A flow goes IN_RECU → IN_EN_ATTENTE_TRAITEMENT_CPP →
// IN_EN_COURS_TRAITEMENT_CPP → final state, one step each. Its invoices,
// accepted at deposit time, become visible (DEPOSEE, then as above, findable
// by rechercher/fournisseur with numeroFluxDepot or numeroFacture) when the
// flow reaches its final state:
//
//   - IN_INTEGRE: every invoice passed the business rules above;
//   - IN_INTEGRE_PARTIEL: some did; listeErreurDP has one entry per rejected
//     invoice (numeroDP = its number, libelleErreurDP = "code - libelle");
//   - IN_REJETE: none did (listeErreurDP), or the file could not be read
//     (listeErreurTechnique: REJ_FORMAT malformed XML or no invoice number,
//     REJ_SYNTAXE document not matching syntaxeFlux, REJ_FACTURX no CII in
//     the PDF, REJ_ARCHIVE, REJ_VIDE).
//
// # What the emulator reads in flow files
//
// The file is one document or a .tar.gz / .zip archive of up to 100 .xml and
// .pdf documents (several invoices). A document is:
//
//   - UBL (root Invoice or CreditNote), for IN_DP_E1_UBL_INVOICE,
//     IN_DP_E2_UBL_INVOICE_MIN, IN_DP_E3_UBL_INVOICE: number cbc:ID (child
//     of the root), date IssueDate, recipient SIRET from
//     AccountingCustomerParty/Party (EndpointID, PartyIdentification/ID or
//     PartyLegalEntity/CompanyID, the first present), service code
//     BuyerReference, engagement OrderReference/ID, totals
//     LegalMonetaryTotal/TaxExclusiveAmount, TaxTotal/TaxAmount,
//     LegalMonetaryTotal/TaxInclusiveAmount;
//   - CII (root CrossIndustryInvoice), for IN_DP_E1_CII_16B and
//     IN_DP_E2_CII_MIN_16B: number ExchangedDocument/ID, date
//     IssueDateTime/DateTimeString (AAAAMMJJ), recipient
//     BuyerTradeParty (SpecifiedLegalOrganization/ID, GlobalID or ID),
//     service code ApplicableHeaderTradeAgreement/BuyerReference, engagement
//     BuyerOrderReferencedDocument/IssuerAssignedID, totals of
//     SpecifiedTradeSettlementHeaderMonetarySummation (TaxBasisTotalAmount,
//     TaxTotalAmount, GrandTotalAmount);
//   - Factur-X, for IN_DP_E2_CII_FACTURX: a PDF whose streams (raw or
//     Flate-compressed) include the CII XML, read as above;
//   - IN_DP_E2_CPP_FACTURE_MIN accepts UBL or CII XML (Chorus Pro's own
//     minimal format is not emulated). PDFs inside archives of non-Factur-X
//     syntaxes are taken as visuals and skipped.
//
// Elements are matched by local name, namespaces ignored. The totals are
// checked only when all three are present. Flows are deposited for the
// technical account's first supplier, or for the supplier whose SIRET is the
// document's seller. deposer/pdf "reads" a Factur-X PDF the same way and
// returns the fields found (its OCR); it creates no invoice.
//
// # Faults
//
// Faults (Config.Faults, SetFaults, GET/PUT /emulator/faults with the
// Faults JSON) inject, reproducibly from a seed: token expiry every N calls,
// 429 with Retry-After, 503, 502/504, slow answers, connections dropped
// after the operation was applied, an outage switch, a token endpoint down,
// and a queue of faults for the next calls. See Faults. Config.Latency,
// not a fault, delays every business answer by a fixed time (benchmarks).
//
// # Request log
//
// Every call to the token and business endpoints is logged (RequestRecord;
// Requests in Go, GET /emulator/requests?since=SEQ as
// {"lastSeq":N,"requests":[...]}, DELETE to clear), with no secret. The body
// is read before any fault is answered, so a call answered 429 or 503, or
// refused at authentication, still names the invoice it was about.
// Resubmissions and RetryAfterViolations check from the log that nothing was
// submitted twice and that retries honoured Retry-After. The control
// endpoints under /emulator/ are not authenticated.
package chorusprotest
