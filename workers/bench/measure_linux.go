package bench

import (
	"bytes"
	"os"
	"strconv"
)

// resetPeakRSS resets the kernel's high-water mark of resident memory (VmHWM).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns the high-water mark of resident memory since the last reset.
func peakRSS() uint64 { return statusField("VmHWM:") }

// currentRSS returns the resident memory.
func currentRSS() uint64 { return statusField("VmRSS:") }

// statusField reads a field of /proc/self/status given in kB, in bytes.
func statusField(name string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte(name))
	if i < 0 {
		return 0
	}
	line := b[i+len(name):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	kb, err := strconv.ParseUint(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}

// machineTicks returns the machine's CPU time counters (/proc/stat, first line):
// all of them together and steal, the time the hypervisor gave to others while
// this machine wanted to run. 0, 0 when unreadable.
func machineTicks() (total, steal uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return 0, 0
	}
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, 0
		}
		if i < 8 { // user nice system idle iowait irq softirq steal (guest time is in user)
			total += v
		}
		if i == 7 {
			steal = v
		}
	}
	return total, steal
}
