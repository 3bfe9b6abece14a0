// Package invoice is the invoice flow: it takes invoice.submit events, submits each
// invoice to Chorus Pro exactly once (a KV ledger keyed by supplier and invoice number
// records every step), follows the flow and the invoice until Chorus Pro's final
// answer with durable scheduled follow-ups, and publishes an invoice.status event at
// each step.
//
// The steps of a submission, as recorded in the ledger:
//
//	received  the event was valid and its business key claimed
//	sending   a deposit call may be under way: on recovery, the invoice is looked up
//	          before anything is sent again
//	submitted Chorus Pro accepted the deposit; the flow and then the invoice are
//	          followed until a final status
//	final     a final status was published (MISE_EN_PAIEMENT, REJETEE, rejected,
//	          unknown, failed...)
package invoice
