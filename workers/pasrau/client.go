package pasrau

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client calls the PASRAU services for one declarant. It is safe for
// concurrent use; concurrent calls share one token and one authentication.
type Client struct {
	cfg       Config
	userAgent string
	loc       *time.Location
	now       func() time.Time
	http      *http.Client
	tokens    *tokenSource

	allowed map[string]bool // lower-case host or host:port
	plain   map[string]bool

	mu       sync.Mutex
	maxRange time.Duration // last Accept-Ranges seen, 0 if none
	nextPoll time.Time     // last Expires seen on a listing
	interval time.Duration // the interval that Expires last announced
	lastPoll time.Time     // when the last poll (page 1 by declarant) was sent

	// pollTurn lets one listing by declarant at a time go out, no sooner than
	// nextPoll: the poller and reconciliation share the declarant's polling budget.
	pollTurn chan struct{}
}

// earliestPoll is when the next poll may go: not before the last Expires, and
// not before the announced interval after the last poll sent, answered or not (a
// poll whose answer was lost still counts for PASRAU). The caller holds c.mu.
func (c *Client) earliestPoll() time.Time {
	next := c.nextPoll
	if after := c.lastPoll.Add(c.interval); c.interval > 0 && after.After(next) {
		next = after
	}
	return next
}

// Option changes how New builds a Client.
type Option func(*options)

type options struct {
	wrap func(http.RoundTripper) http.RoundTripper
	now  func() time.Time
}

// WithTransportWrapper wraps the client's transport, e.g. with otelhttp's
// NewTransport to trace every attempt.
func WithTransportWrapper(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return func(o *options) { o.wrap = wrap }
}

// WithClock replaces time.Now, for token expiry and waits (tests).
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// New checks cfg and returns a Client. No request is made.
//
// It returns an error matching ErrInvalidConfig, naming every wrong field
// (never its value): endpoints that are not absolute http(s) urls, no allowed
// download host, SIRET not 14 digits, Nom not 1-64 characters, Prenom not
// 1-39, MotDePasse not 8-30, Service not 1-2 digits, ExtraCAPEM without a
// certificate, negative durations.
func New(cfg Config, opts ...Option) (*Client, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("pasrau: new client: %w", err)
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.Location == nil {
		cfg.Location = Paris()
	}
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	transport, err := newTransport(cfg.ExtraCAPEM)
	if err != nil {
		return nil, fmt.Errorf("pasrau: new client: %w", err)
	}
	var rt http.RoundTripper = transport
	if o.wrap != nil {
		rt = o.wrap(rt)
	}
	c := &Client{
		pollTurn:  make(chan struct{}, 1),
		cfg:       cfg,
		userAgent: cfg.UserAgent.String(),
		loc:       cfg.Location,
		now:       o.now,
		http: &http.Client{
			Transport: rt,
			// Never follow a redirect: a download url is checked against
			// the allowed hosts, and a redirect could lead anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		allowed: hostSet(cfg.AllowedDownloadHosts),
		plain:   hostSet(cfg.PlainHTTPDownloadHosts),
	}
	c.tokens = &tokenSource{c: c}
	return c, nil
}

// maxIdleConns bounds the connections kept open between calls.
const maxIdleConns = 1024

// newTransport returns an HTTP/1.1 transport (the guide's protocol) that
// verifies TLS 1.2+ certificates against the system pool plus extraPEM, and
// leaves gzip to the client (which sets Accept-Encoding itself).
func newTransport(extraPEM []byte) (*http.Transport, error) {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("http.DefaultTransport is not an *http.Transport")
	}
	t = t.Clone()
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if len(extraPEM) > 0 {
		pool.AppendCertsFromPEM(extraPEM)
	}
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	t.DisableCompression = true
	t.ForceAttemptHTTP2 = false
	// Keep a connection per call in flight (the default keeps two per host):
	// a replica depositing N declarations at once would dial again after each.
	t.MaxIdleConns, t.MaxIdleConnsPerHost = maxIdleConns, maxIdleConns
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	t.Protocols = protocols
	return t, nil
}

// hostSet lower-cases a list of hosts into a set.
func hostSet(hosts []string) map[string]bool {
	set := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		set[strings.ToLower(h)] = true
	}
	return set
}

// PollingLimits returns the constraints the last listing announced: the
// widest range (Accept-Ranges: minutes=0-N; 0 when never announced) and the
// earliest time for the next poll (Expires; zero when never announced).
func (c *Client) PollingLimits() (maxRange time.Duration, nextPoll time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxRange, c.earliestPoll()
}

// Location returns the zone the client reads and writes PASRAU times in.
func (c *Client) Location() *time.Location { return c.loc }
