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
