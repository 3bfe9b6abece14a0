package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"
)

// usage is a reading of what the process consumed so far.
type usage struct {
	cpu        time.Duration // user + system
	allocs     uint64        // heap objects allocated
	allocBytes uint64
	wall       time.Time
	// ticks and steal are the machine's CPU time counters (see machineTicks).
	ticks, steal uint64
}

var allocSamples = []string{"/gc/heap/allocs:objects", "/gc/heap/allocs:bytes"}

func readUsage() usage {
	s := make([]metrics.Sample, len(allocSamples))
	for i, name := range allocSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	u := usage{cpu: ProcessCPU(), wall: time.Now()}
	u.ticks, u.steal = machineTicks()
	if s[0].Value.Kind() == metrics.KindUint64 {
		u.allocs = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		u.allocBytes = s[1].Value.Uint64()
	}
	return u
}

// rssSampler follows the process's resident memory while a measurement runs: the
// kernel's high-water mark, reset at the start where the system allows it, and
// samples every 50 ms otherwise.
type rssSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak uint64
	hwm  bool
}

// startRSS returns memory to the system, resets the peak and starts sampling.
func startRSS() *rssSampler {
	runtime.GC()
	debug.FreeOSMemory()
	r := &rssSampler{stop: make(chan struct{}), hwm: resetPeakRSS()}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			r.sample()
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

func (r *rssSampler) sample() {
	if v := currentRSS(); v > 0 {
		r.mu.Lock()
		r.peak = max(r.peak, v)
		r.mu.Unlock()
	}
}

// done stops sampling and returns the peak, in bytes.
func (r *rssSampler) done() uint64 {
	close(r.stop)
	r.wg.Wait()
	r.sample()
	peak := r.peak
	if r.hwm {
		peak = max(peak, peakRSS())
	}
	return peak
}

// profile records a CPU profile of a measurement into dir (nothing when dir is
// empty); the returned func stops it and writes a heap profile beside it.
func profile(dir, name string) (func() error, error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("bench: profile directory: %w", err)
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu-"+name+".pprof")) //nolint:gosec // the operator names the directory; the file name is the scenario's
	if err != nil {
		return nil, fmt.Errorf("bench: CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		_ = cpu.Close()
		return nil, fmt.Errorf("bench: CPU profile: %w", err)
	}
	// Where goroutines wait, sampled: a run that leaves cores idle shows why.
	runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	runtime.SetMutexProfileFraction(100)
	return func() error {
		pprof.StopCPUProfile()
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
		if err := cpu.Close(); err != nil {
			return fmt.Errorf("bench: CPU profile: %w", err)
		}
		for _, p := range []struct{ profile, file string }{{"allocs", "heap"}, {"block", "block"}, {"mutex", "mutex"}} {
			f, err := os.Create(filepath.Join(dir, p.file+"-"+name+".pprof")) //nolint:gosec // as above
			if err != nil {
				return fmt.Errorf("bench: %s profile: %w", p.file, err)
			}
			if err := pprof.Lookup(p.profile).WriteTo(f, 0); err != nil {
				_ = f.Close()
				return fmt.Errorf("bench: %s profile: %w", p.file, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("bench: %s profile: %w", p.file, err)
			}
		}
		return nil
	}, nil
}
