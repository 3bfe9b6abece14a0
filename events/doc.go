// Package events is passerelle's event contract in Go: the CloudEvents types and
// NATS subjects of the bus, the data carried by each event type, the codec between
// CloudEvents and NATS messages (binary mode with ce-* headers, and structured mode),
// W3C trace-context propagation, and a publisher that sends events to JetStream with
// a deduplication id.
//
// Publishers outside passerelle can use this package to build submit events and to
// decode the status and return events that passerelle emits.
package events
