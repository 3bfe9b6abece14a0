package choruspro

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"time"
)

// maxIdleConns bounds the connections kept open between calls: as many as the
// calls a replica makes at once, at most.
const maxIdleConns = 1024

// Client calls Chorus Pro. It is safe for concurrent use; build it once with
// New and share it.
type Client struct {
	cfg     Config
	http    *http.Client
	tokens  *tokenCache // nil in direct mode
	account string      // cpro-account (PISTE) or basic credentials (direct), base64
	now     func() time.Time
}

// Option customises a Client built by New.
type Option func(*options)

// TokenObserver is told about every PISTE token fetch once it ends: how long
// it took and its error (nil on success). It must not block.
type TokenObserver func(ctx context.Context, took time.Duration, err error)

type options struct {
	wrap     func(http.RoundTripper) http.RoundTripper
	observer TokenObserver
	now      func() time.Time
}

// WithTransportWrapper wraps the client's HTTP transport, e.g. with
// otelhttp.NewTransport. The wrapper must pass the request context on (the
// client traces requests through it).
func WithTransportWrapper(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return func(o *options) { o.wrap = wrap }
}

// WithTokenObserver registers a hook called after each token fetch, for
// metrics.
func WithTokenObserver(obs TokenObserver) Option {
	return func(o *options) { o.observer = obs }
}

// WithClock replaces time.Now for token expiry, Retry-After dates and the
// certificate validity check; meant for tests.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// New builds a Client from cfg. It returns an error wrapping ErrConfig that
// names the field at fault when cfg is incomplete or wrong: missing URL or
// credentials, a .p12 that the password does not open, whose key does not
// match, or whose certificate is expired or not yet valid, an ExtraCAPEM
// without certificates. The error never contains a secret.
func New(cfg Config, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("choruspro: New: %w", err)
	}
	tlsConfig, err := buildTLSConfig(cfg, o.now())
	if err != nil {
		return nil, fmt.Errorf("choruspro: New: %w", err)
	}
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:   tlsConfig,
		ForceAttemptHTTP2: true,
		// Keep a connection per call in flight: a worker running N calls at once
		// would otherwise close all but a few after each call and dial again.
		MaxIdleConns:          maxIdleConns,
		MaxIdleConnsPerHost:   maxIdleConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	var rt http.RoundTripper = transport
	if o.wrap != nil {
		rt = o.wrap(rt)
	}
	c := &Client{
		cfg:     cfg,
		http:    &http.Client{Transport: rt, CheckRedirect: noRedirect},
		account: base64.StdEncoding.EncodeToString([]byte(cfg.Login + ":" + cfg.Password)),
		now:     o.now,
	}
	if cfg.Auth == AuthPISTE {
		c.tokens = &tokenCache{
			fetch:    c.fetchToken,
			now:      o.now,
			early:    cfg.TokenEarlyRefresh,
			observer: o.observer,
		}
	}
	return c, nil
}

// String describes the client without its secrets.
func (c *Client) String() string {
	return fmt.Sprintf("choruspro.Client{BaseURL:%q Auth:%q Login:%q}", c.cfg.BaseURL, c.cfg.Auth, c.cfg.Login)
}

// CloseIdleConnections closes the idle connections of the client's
// transport. The Client stays usable.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// noRedirect stops redirects: Chorus Pro does not redirect API calls, and a
// redirect must not carry the credentials elsewhere.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
