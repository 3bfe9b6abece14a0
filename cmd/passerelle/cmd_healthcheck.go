package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
)

const healthcheckUsage = `Usage: passerelle healthcheck [flags]

Asks a running passerelle whether it is alive (GET /healthz) or ready (GET
/readyz) and exits 0 when it answers 200, 1 otherwise, printing why. It is the
container image's HEALTHCHECK: the image has no shell and no HTTP client, so the
binary asks itself. Without --url it asks the server of PASSERELLE_HTTP_LISTEN
(default :8080) on this machine, as "passerelle run" started with the same
environment serves it.

Flags:
  --ready          ask /readyz instead of /healthz
  --url URL        ask this URL instead (an emulator's, for instance)
  --timeout D      give up after D (default 5s)

Examples:
  passerelle healthcheck
  passerelle healthcheck --ready
  passerelle healthcheck --url http://127.0.0.1:8081/emulator/faults
`

func runHealthcheck(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	ready := fs.Bool("ready", false, "")
	target := fs.String("url", "", "")
	timeout := fs.Duration("timeout", 5*time.Second, "")
	if err := parseFlags(fs, healthcheckUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{"healthcheck: no argument expected\n\n" + healthcheckUsage}
	}
	if *ready && *target != "" {
		return &usageError{"healthcheck: --ready and --url exclude each other\n\n" + healthcheckUsage}
	}
	if *timeout <= 0 {
		return &usageError{"healthcheck: --timeout must be positive"}
	}
	u := *target
	if u == "" {
		var err error
		if u, err = healthURL(e.getenv, *ready); err != nil {
			return err
		}
	} else if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return &usageError{fmt.Sprintf("healthcheck: --url %q is not an http(s) URL", u)}
	}
	return probe(ctx, u, *timeout, e.stdout)
}

// healthURL is the URL of /healthz (or /readyz) of the server that `passerelle run`
// starts with this environment: PASSERELLE_HTTP_LISTEN, an unspecified host meaning
// this machine.
func healthURL(getenv func(string) string, ready bool) (string, error) {
	listen := getenv("PASSERELLE_HTTP_LISTEN")
	if listen == "" {
		listen = runDefault("PASSERELLE_HTTP_LISTEN")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return "", fmt.Errorf("healthcheck: PASSERELLE_HTTP_LISTEN %q is not host:port", listen)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	path := "/healthz"
	if ready {
		path = "/readyz"
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: path}).String(), nil
}

// runDefault returns the default of the `passerelle run` setting named name, as
// config.go declares it.
func runDefault(name string) string {
	typ := reflect.TypeFor[runConfig]()
	for i := range typ.NumField() {
		parts := strings.Split(typ.Field(i).Tag.Get("env"), ",")
		if parts[0] != name {
			continue
		}
		for _, p := range parts[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "default="); ok {
				return v
			}
		}
	}
	return ""
}

// probe GETs u and returns nil when it answers 200 within timeout.
func probe(ctx context.Context, u string, timeout time.Duration, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s: %s", u, resp.Status, text)
	}
	fmt.Fprintf(stdout, "GET %s: %s\n", u, resp.Status)
	return nil
}
