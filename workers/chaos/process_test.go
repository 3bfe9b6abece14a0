//go:build unix

package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a process the harness started: its own process group, its output in a
// log file, killed (the whole group) when the test ends, whatever happens.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	started time.Time

	done     chan struct{} // closed once the process has exited
	exitErr  error         // Wait's result, once done
	exitedAt time.Time
}

// startProc starts bin with args and exactly env as its environment, its output
// appended to logPath. The process and its group are killed at the end of the
// test (SIGKILL), and also if the test process itself dies (on Linux).
func startProc(t testing.TB, name, logPath string, env []string, bin string, args ...string) *proc {
	t.Helper()
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		_ = out.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.exitErr, p.exitedAt = err, time.Now()
		_ = out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		// The group too: a process that forked must not outlive the test.
		_ = killGroup(cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
	return p
}

// killGroup sends sig to the process group led by pid.
func killGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// alive reports whether the process is still running.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL to the process group and waits until the process is gone.
func (p *proc) kill(t testing.TB) {
	t.Helper()
	if err := killGroup(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10s after SIGKILL", p.name)
	}
}

// terminate sends SIGTERM to the process.
func (p *proc) terminate(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
}

// exit waits up to timeout for the process to exit and returns its exit code
// (-1 when killed by a signal) and whether it exited in time.
func (p *proc) exit(timeout time.Duration) (code int, ok bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		return 0, false
	}
	if p.exitErr == nil {
		return 0, true
	}
	var ee *exec.ExitError
	if errors.As(p.exitErr, &ee) {
		return ee.ExitCode(), true
	}
	return -1, true
}

// tail returns the last n lines of the process's log, for failure messages.
func (p *proc) tail(n int) string {
	lines := grepFile(p.logPath, func(string) bool { return true })
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grepFile returns the lines of path that match.
func grepFile(path string, match func(string) bool) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{fmt.Sprintf("(cannot read %s: %v)", path, err)}
	}
	defer func() { _ = f.Close() }() // only read
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		if line := sc.Text(); match(line) {
			out = append(out, line)
		}
	}
	return out
}

// ports hands out free loopback ports, never the same twice in a test: a port
// just released by a killed process is not given to another.
type ports struct {
	mu   sync.Mutex
	used map[int]bool
}

// next returns a loopback port nothing listens on.
func (ps *ports) next(t testing.TB) int {
	t.Helper()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.used == nil {
		ps.used = map[int]bool{}
	}
	for range 100 {
		ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !ps.used[port] {
			ps.used[port] = true
			return port
		}
	}
	t.Fatal("no free port found")
	return 0
}

// baseEnv is the environment every process starts from: only what a program
// needs to run, nothing of the test's own configuration.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GORACE"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
