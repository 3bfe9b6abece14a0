// Package declaration is the declaration flow: it takes declaration.submit events,
// checks each PASRAU declaration file, deposits it exactly once (a KV ledger keyed
// by the declaration's identity records every step), follows the flux until its
// conformity answer, and publishes declaration.status events; a per-account poller,
// shared by the replicas, walks the declarant's returns listing and publishes one
// declaration.return event per return and per new version of a return.
//
// The steps of a submission, as recorded in the ledger:
//
//	received  the file passed the checks and its identity was claimed
//	sending   a deposit may be under way: on recovery, the deposit is looked for
//	          among the declarant's returns before anything is sent again
//	deposited PASRAU registered it (AEE): the flux is followed until nature 11
//	final     accepted, rejected, unknown or failed was published
package declaration
