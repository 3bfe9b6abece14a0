// Package bench measures passerelle against the physical ceiling beside it, in one
// process: an embedded JetStream server, the Chorus Pro and PASRAU emulators
// answering after a fixed latency, and a load of submissions (invoices,
// declarations or a mix) pushed through either passerelle's service or a
// baseline written here with nothing of passerelle: a raw JetStream pull consumer
// that decodes the JSON, makes the same HTTP calls to the same emulator, publishes
// one raw status message and acks. The ratio of the two throughputs is the
// overhead passerelle adds to what NATS and the administrations cost.
//
// The load is closed-loop: at most Window submissions are in flight (published,
// not yet answered by the status that follows their deposit), so latencies
// measure the system rather than a queue the generator built. Each run has a
// store of its own and the same process measures it: CPU seconds (getrusage),
// peak RSS, heap allocations and, when asked, CPU and heap profiles. CPU and
// memory are the whole process's: server, emulators, load generator and
// collector are included, the same for passerelle and the baseline, so their
// difference is passerelle's.
//
// `passerelle bench` runs a matrix of scenarios and prints a table and JSON;
// docs/performance.md reports the figures.
package bench
