// Package pasrautest is a stateful emulator of the PASRAU API (guide v2.7),
// faithful enough for the client's tests and for "passerelle emulate pasrau":
// one http.Handler serves every service from one listener.
//
//	POST /authentifier/1.0/                         authentication
//	POST /deposer-pasrau/1.0/                       deposit
//	GET  /lister-retours-flux/1.0/{idflux}          returns of a flux
//	GET  /lister-retours-declarant/1.0/{start}[/{end}]
//	GET  /telecharger-retour/1.0/{idflux}/{id}      download
//	GET  /downloadcr?idflux=...&idretour=...        ACOSS-style download (66, 68)
//	GET|PUT /emulator/faults                        injected faults (JSON, see Faults)
//	GET|DELETE /emulator/requests[?since=SEQ]       request log (JSON, see Request)
//
// Answers follow the guide and the DSN emulator published by GIP-MDS: the
// deposit checks 415, 406, 422 (empty), 401, 400 (not gzip), then 422 with a
// rejection notice or 200 with an AEE; business answers are gzip-compressed;
// GET answers carry Cache-Control: no-cache; 401 answers carry the guide's
// WWW-Authenticate realms; listings announce Accept-Ranges: minutes=0-N and,
// with MinInterval, Expires, and answer 429 to a by-declarant poll that is too
// soon or too wide.
//
// # Returns over time
//
// A deposit registers a flux whose returns appear Step apart, computed from
// the clock when asked (no goroutine): 10 (AEE, or ARE KO for a rejected
// deposit), 11 (EN_COURS, then CCO OK or BAN ANO/KO), and for a real
// declaration (S10.G00.00.005 = 02) 20 (BIS), 92, 94 (PAS rates, on the CRM
// host), and the ACOSS returns 65 to 68 when the declaration pays an organism
// other than DGFIP (S21.G00.20.001). A return not yet final is listed
// EN_COURS with empty publication, production, id and url. Documents are
// downloadable for Retention, then 404; an overwritten version is 404 at
// once.
//
// # Triggers
//
// What the returns say depends on the deposited file:
//
//   - the file's form fails (encoding, including UTF-8 bytes; syntax; first
//     line not S10; S90 totals or S90 block missing): 422 and an ARE listing
//     each problem (code B1-105-15, with numero_ligne), and a nature 10 KO;
//   - any other problem Validate reports (SIREN/SIRET, dates, amounts, more
//     than one S20 block...): nature 11 BAN KO with one anomaly per
//     problem (code EMU-<problem code>, numero_ligne, rubric); the flux stops;
//   - markers in the contact name S10.G00.02.002 (case-insensitive, several
//     allowed, e.g. 'Test BIS-ANO OVERWRITE'):
//     ARE-KO (the deposit is answered 422 with a rejection notice),
//     BAN-KO and BAN-ANO (nature 11), BIS-ANO (20 ANO with a document),
//     CRM93-KO (93 KO), CRM94-ANO and CRM94-KO (94), ACOSS66-KO, ACOSS68-ANO
//     and ACOSS68-KO (66, 68), OVERWRITE (94 is overwritten one Step after it
//     is final: statut, dates, id and url change, the old url answers 404).
//
// Config.Latency delays every business call by a fixed time, like PASRAU's
// own answer time (benchmarks); it is not a fault.
//
// The emulator is deterministic for a given Config.Seed, Faults.Seed, clock
// and sequence of calls.
package pasrautest
