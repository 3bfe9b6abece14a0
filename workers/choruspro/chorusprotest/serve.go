package chorusprotest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// shutdownGrace bounds the wait for in-flight calls when serving stops.
const shutdownGrace = 5 * time.Second

// Serve serves the emulator on ln until ctx is done, then shuts down
// gracefully (in-flight calls get shutdownGrace to finish; slow answers are
// cut short). Wrap ln with tls.NewListener to serve TLS, with client
// certificates requested for direct mode. It returns nil after a shutdown
// caused by ctx, or the error that stopped serving.
func (e *Emulator) Serve(ctx context.Context, ln net.Listener) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("chorusprotest: Serve: %w", err)
	case <-ctx.Done():
	}
	cancelBase()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("chorusprotest: Serve: shutting down: %w", err)
	}
	return nil
}

// ListenAndServe listens on the TCP address addr (e.g. "127.0.0.1:8080")
// and serves the emulator over plain HTTP until ctx is done, like Serve. It
// returns an error when addr cannot be listened on.
func (e *Emulator) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("chorusprotest: ListenAndServe: %w", err)
	}
	return e.Serve(ctx, ln)
}
