package main

import (
	"context"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
)

func TestRedactURLs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://passerelle:s3cr%40t@nats:4222", "nats://passerelle:xxxxx@nats:4222"},
		{"nats://t0k3n@nats:4222", "nats://xxxxx@nats:4222"},
		{"nats://a:pw1@n1:4222, nats://a:pw2@n2:4222", "nats://a:xxxxx@n1:4222,nats://a:xxxxx@n2:4222"},
		{"nats://a:pw%zz@n1:4222", "(an unreadable URL)"},
	} {
		if got := redactURLs(tc.in); got != tc.want {
			t.Errorf("redactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestConnectErrorHidesPassword: a connection that fails names the server, never
// the password in its URL.
func TestConnectErrorHidesPassword(t *testing.T) {
	_, err := natsSettings{URL: "nats://passerelle:hunter2@127.0.0.1:1"}.connect("test")
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q: want the server named and the password hidden", err)
	}
}

// TestPublishErrorHidesPassword publishes to a NATS where passerelle never set up
// its streams: the error says so and names the server, not the password.
func TestPublishErrorHidesPassword(t *testing.T) {
	t.Parallel()
	srv := natstest.Server(t)
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("operator", "hunter2")
	err = run(context.Background(), []string{"publish", "--nats", u.String(), "--account", "demo", "--declaration", "../../workers/pasrau/testdata/valid-declaration.txt"},
		envOf(nil), nil, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("published without a stream")
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "no stream") || !strings.Contains(err.Error(), u.Host) {
		t.Errorf("error %q: want no stream named, the server named and the password hidden", err)
	}
}
