package pasrau

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Document is a downloaded return.
type Document struct {
	// URL is the address called (normalised).
	URL string
	// ContentType is the answer's Content-Type (application/xml for the
	// documents the guide lists).
	ContentType string
	// Body is the document, decompressed.
	Body []byte
}

// Download fetches a return from the url a listing gave. The url is
// normalised (NormalizeReturnURL: whitespace removed, a literal "&amp;"
// unescaped) and must be https on one of Config.AllowedDownloadHosts (http
// only for PlainHTTPDownloadHosts); redirects are not followed.
//
// It returns an *Error: ErrInvalidURL (malformed, over 256 characters, with
// credentials) or ErrHostNotAllowed, both without any request;
// ErrPurged (404: unknown, purged or overwritten return; a known state);
// ErrForbidden (403: not the declarant's return); ErrRateLimited;
// ErrUnavailable; ErrNoAnswer; ErrUnexpected; and the authentication errors.
func (c *Client) Download(ctx context.Context, rawURL string) (*Document, error) {
	target, refusal := c.checkDownloadURL(rawURL)
	if refusal != nil {
		return nil, refusal
	}
	ex, err := c.business(ctx, OpDownload, func(ctx context.Context, _ string) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	})
	if err != nil {
		return nil, err
	}
	if ex.status != http.StatusOK {
		return nil, c.statusError(OpDownload, ex)
	}
	return &Document{URL: target, ContentType: ex.header.Get("Content-Type"), Body: ex.body}, nil
}

// checkDownloadURL returns the url to call, or why it is refused.
func (c *Client) checkDownloadURL(raw string) (string, *Error) {
	refuse := func(kind error, format string, args ...any) (string, *Error) {
		return "", &Error{Op: OpDownload, Kind: kind, Cause: fmt.Errorf(format, args...)}
	}
	s, err := NormalizeReturnURL(raw)
	if err != nil {
		return refuse(ErrInvalidURL, "%s", strings.TrimPrefix(err.Error(), ErrInvalidURL.Error()+": "))
	}
	if s == "" {
		return refuse(ErrInvalidURL, "empty url: this return has no document")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return refuse(ErrInvalidURL, "%q is not an absolute url without credentials", s)
	}
	host, hostname := strings.ToLower(u.Host), strings.ToLower(u.Hostname())
	if !c.allowed[host] && !c.allowed[hostname] {
		return refuse(ErrHostNotAllowed, "host %q is not among the allowed download hosts", u.Host)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !c.plain[host] && !c.plain[hostname] {
			return refuse(ErrHostNotAllowed, "plain http to %q is not allowed", u.Host)
		}
	default:
		return refuse(ErrInvalidURL, "scheme %q is not https", u.Scheme)
	}
	return u.String(), nil
}
