// Package embedded runs a NATS server with JetStream inside the process, for
// `passerelle dev`, `passerelle bench` and tests.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures an embedded server.
type Config struct {
	// Listen is host:port for clients; port 0 picks a free port.
	Listen string
	// StoreDir is where JetStream keeps its files.
	StoreDir string
	// SyncAlways makes JetStream flush to disk before acknowledging each write
	// (sync_interval: always) instead of every two minutes: acknowledged publishes
	// survive a crash of the machine, at a cost in throughput.
	SyncAlways bool
	// Name names the server (and its JetStream domain).
	Name string
}

// Server is a running embedded NATS server.
type Server struct {
	srv *server.Server
}

// Start starts a server and waits until it accepts clients. It returns an error when
// the address is unusable or the server does not become ready within ten seconds.
func Start(cfg Config) (*Server, error) {
	host, portText, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded: listen address %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("embedded: listen port %q: %w", portText, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded: a store directory is required")
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true,
		MaxPayload: 8 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded: new server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded: server on %s not ready within 10s", cfg.Listen)
	}
	return &Server{srv: srv}, nil
}

// ClientURL returns the URL clients connect to.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// Shutdown stops the server and waits for it to be down.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
