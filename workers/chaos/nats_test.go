//go:build unix

package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// natsNode is one nats-server process of a scenario.
type natsNode struct {
	name        string
	port        int
	clusterPort int
	httpPort    int
	storeDir    string
	confPath    string
	logPath     string
	proc        *proc
}

// natsCluster is one NATS server, or a cluster of three.
type natsCluster struct {
	bin   string
	nodes []*natsNode
}

// natsConfig returns a node's configuration file: the settings of
// deploy/nats-cluster (JetStream flushing to disk before each acknowledgement,
// routes to every node), on loopback ports. A single node has no cluster block.
func natsConfig(n *natsNode, all []*natsNode) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n", n.name, n.port, n.httpPort)
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n  sync_interval: always\n}\n", n.storeDir)
	if len(all) > 1 {
		fmt.Fprintf(&b, "cluster {\n  name: chaos\n  listen: 127.0.0.1:%d\n  routes: [\n", n.clusterPort)
		for _, o := range all {
			fmt.Fprintf(&b, "    nats-route://127.0.0.1:%d\n", o.clusterPort)
		}
		b.WriteString("  ]\n}\n")
	}
	return b.String()
}

// startNATS starts size NATS servers (1 or 3) with their stores and logs under
// dir and logDir, and waits until every one reports healthy.
func startNATS(t testing.TB, bin, dir, logDir string, ps *ports, size int) *natsCluster {
	t.Helper()
	c := &natsCluster{bin: bin}
	for i := range size {
		name := fmt.Sprintf("n%d", i+1)
		c.nodes = append(c.nodes, &natsNode{
			name: name, port: ps.next(t), clusterPort: ps.next(t), httpPort: ps.next(t),
			storeDir: filepath.Join(dir, name), confPath: filepath.Join(dir, name+".conf"),
			logPath: filepath.Join(logDir, "nats-"+name+".log"),
		})
	}
	for _, n := range c.nodes {
		if err := os.WriteFile(n.confPath, []byte(natsConfig(n, c.nodes)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i := range c.nodes {
		c.start(t, i)
	}
	for i := range c.nodes {
		c.waitHealthy(t, i, 2*time.Minute)
	}
	return c
}

// start starts node i from its configuration (and its store, after a kill).
func (c *natsCluster) start(t testing.TB, i int) {
	t.Helper()
	n := c.nodes[i]
	n.proc = startProc(t, "nats "+n.name, n.logPath, baseEnv(), c.bin, "-c", n.confPath)
}

// kill kills node i with SIGKILL.
func (c *natsCluster) kill(t testing.TB, i int) {
	t.Helper()
	c.nodes[i].proc.kill(t)
}

// waitHealthy polls node i's /healthz until it answers 200: the server runs and
// its JetStream assets are current.
func (c *natsCluster) waitHealthy(t testing.TB, i int, timeout time.Duration) {
	t.Helper()
	n := c.nodes[i]
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", n.httpPort)
	deadline := time.Now().Add(timeout)
	for {
		if !n.proc.alive() {
			t.Fatalf("NATS %s exited: %v\n%s", n.name, n.proc.exitErr, n.proc.tail(20))
		}
		if status, _ := httpGet(url); status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			status, body := httpGet(url)
			t.Fatalf("NATS %s not healthy after %v: /healthz answers %d %s", n.name, timeout, status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// index returns the index of the node named name, or -1.
func (c *natsCluster) index(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// url returns the NATS URL of every node, comma-separated.
func (c *natsCluster) url() string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", n.port)
	}
	return strings.Join(urls, ",")
}

// httpGet returns the status and body of a GET, 0 when it fails.
func httpGet(url string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(body)
}
