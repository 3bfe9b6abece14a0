package choruspro

import (
	"context"
	"net/http"
)

// healthAnswer is the health check's answer; only its outcome matters.
type healthAnswer struct {
	Retour
}

// lenient marks the answer as one whose non-JSON bodies are accepted.
func (*healthAnswer) lenient() {}

// HealthCheck calls GET transverses/v1/health-check with the usual
// credentials, which also checks them. It returns nil when Chorus Pro
// answers 2xx (with codeRetour 0 if the answer carries one), an *Error
// otherwise.
func (c *Client) HealthCheck(ctx context.Context) error {
	return c.call(ctx, "HealthCheck", http.MethodGet, "/transverses/v1/health-check", nil, &healthAnswer{})
}
