//go:build unix && !linux

package chaos

import (
	"syscall"
	"time"
)

// procAttr puts a child in a process group of its own.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// cpuTime is not measured on this system.
func cpuTime(int) (time.Duration, bool) { return 0, false }

// residentMiB and peakResidentMiB are not measured on this system.
func residentMiB(int) (float64, bool)     { return 0, false }
func peakResidentMiB(int) (float64, bool) { return 0, false }
