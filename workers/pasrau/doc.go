// Package pasrau talks to PASRAU, net-entreprises' API for withholding-tax
// declarations on non-salary income (implementation guide v2.7).
//
// It holds everything below the event layer:
//
//   - the declaration file validator (Validate) and the ISO-8859-1
//     conversion applied before a deposit (ToLatin1);
//   - the parsers of the returns listing (ParseListing) and of the return
//     documents in the GIP-MDS "format harmonisé" (ParseReport);
//   - the HTTP client (New): authentication with a shared, cached token,
//     gzip deposits, listings by flux and by declarant, downloads restricted
//     to the configured hosts, and the reconciliation of a deposit whose
//     outcome is unknown (FindDeposit).
//
// The client never retries by itself beyond the single re-authentication the
// guide allows after a 401: every failure is returned as an *Error that says
// whether it is retryable, how long to wait, and whether a non-idempotent
// request may have been processed (OutcomeUnknown). The stateful emulator used
// by tests and by "passerelle emulate pasrau" lives in the pasrautest
// subpackage.
//
// Times exchanged with PASRAU (yyyyMMddHHmmss) carry no zone; they are read
// and written in Europe/Paris unless configured otherwise. The package
// imports time/tzdata so that zone is known even in a minimal image.
package pasrau
