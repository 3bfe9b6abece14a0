//go:build unix

package chaos

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// binaries are the programs a scenario runs.
type binaries struct {
	passerelle string
	natsServer string
}

// moduleRoot returns the directory of go.mod, above the package's directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// buildBinaries builds passerelle and the NATS server (the main package of the
// nats-server module go.mod requires) into a temporary directory.
func buildBinaries(t testing.TB) binaries {
	t.Helper()
	root, dir := moduleRoot(t), t.TempDir()
	b := binaries{passerelle: filepath.Join(dir, "passerelle"), natsServer: filepath.Join(dir, "nats-server")}
	for _, target := range []struct{ out, pkg string }{
		{b.passerelle, "./cmd/passerelle"},
		{b.natsServer, "github.com/nats-io/nats-server/v2"},
	} {
		args := []string{"build", "-o", target.out}
		if raceBuild {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, "go", append(args, target.pkg)...)
		cmd.Dir = root
		start := time.Now()
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", target.pkg, err, out)
		}
		t.Logf("built %s in %s", target.pkg, time.Since(start).Round(100*time.Millisecond))
	}
	return b
}
