// Package runtime is what every passerelle flow runs on: the JetStream topology
// (streams, consumers, KV and Object Store buckets), the consume loop with bounded
// concurrency and a graceful drain, THE outcome policy that turns a handler's result
// into an ack, a delayed nak, a termination or a dead letter, the dead-letter stream,
// the KV ledger that makes effects on outside systems happen once, the scheduler of
// follow-ups (JetStream message schedules), and the health checks.
//
// Handlers only return errors; this package alone decides what happens to a message.
package runtime
