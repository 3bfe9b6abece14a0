package chaos

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
)

// TestClusterConfigs checks deploy/nats-cluster: three node configurations that
// the NATS server accepts, with distinct names, JetStream flushing to disk before
// each acknowledgement (sync_interval: always) and routes to all three nodes.
// It reads three small files: it runs even with -short.
func TestClusterConfigs(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(wd, "..", "..", "deploy", "nats-cluster")
	names := map[string]bool{}
	for _, file := range []string{"nats-1.conf", "nats-2.conf", "nats-3.conf"} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join(dir, file)
			m, err := conf.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := m["jetstream"].(map[string]any)
			if got, _ := js["sync_interval"].(string); got != "always" {
				t.Errorf("jetstream.sync_interval = %v, want always", js["sync_interval"])
			}
			if got, _ := js["store_dir"].(string); !strings.HasPrefix(got, "/data") {
				t.Errorf("jetstream.store_dir = %v, want a directory under /data", js["store_dir"])
			}
			cluster, _ := m["cluster"].(map[string]any)
			routes, _ := cluster["routes"].([]any)
			var got []string
			for _, r := range routes {
				s, _ := r.(string)
				got = append(got, s)
			}
			want := []string{"nats-route://nats-1:6222", "nats-route://nats-2:6222", "nats-route://nats-3:6222"}
			if !slices.Equal(got, want) {
				t.Errorf("cluster.routes = %v, want %v", got, want)
			}

			// The server itself accepts the file, with the same reading.
			opts, err := server.ProcessConfigFile(path)
			if err != nil {
				t.Fatalf("nats-server refuses %s: %v", file, err)
			}
			if !opts.JetStream || !opts.SyncAlways {
				t.Errorf("JetStream %t, SyncAlways %t; want both", opts.JetStream, opts.SyncAlways)
			}
			if len(opts.Routes) != 3 || opts.Cluster.Name == "" {
				t.Errorf("%d routes, cluster name %q; want 3 routes and a cluster name", len(opts.Routes), opts.Cluster.Name)
			}
			if names[opts.ServerName] {
				t.Errorf("server name %q used by another node", opts.ServerName)
			}
			names[opts.ServerName] = true
		})
	}
}
