// Package chaos is passerelle's crash harness, and nothing but its tests: they
// build the real binaries, run NATS (one server, or a three-node cluster) and
// both administration emulators as processes of their own, start several
// `passerelle run` workers configured only by environment variables and an
// accounts file, publish a mixed load of invoices and declarations, kill
// workers (SIGKILL, or SIGTERM to check the drain) and NATS nodes at chosen
// moments, and then prove that nothing was lost and nothing was sent twice:
// one final status per submission, one deposit per invoice and per
// declaration file at the emulators, one event per return version, and
// nothing in the dead-letter stream but what was made undeliverable on
// purpose.
//
// The scale-out scenarios run three workers side by side, each reaching the
// emulators through a tap (a reverse proxy that knows which worker makes each
// call, for which account), and check that the deposits and follow-ups spread
// over the three, that an account's returns are never polled by two workers at
// once, and that another worker takes an account's poll over within the ack
// wait when the worker polling it is killed.
//
// `go test ./workers/chaos/` runs a small crash scenario and a small scale-out
// scenario; `-short` skips them; CHAOS=1 runs the full-size scenarios.
// docs/reliability.md and docs/scaling.md list each scenario, the command that
// reproduces it and the figures it measured.
package chaos
