package main

import (
	"strings"
	"testing"
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
