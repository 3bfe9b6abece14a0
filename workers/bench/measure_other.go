//go:build !linux

package bench

// resetPeakRSS cannot reset the peak outside Linux: the sampler's figure is used.
func resetPeakRSS() bool { return false }

func peakRSS() uint64 { return 0 }

// currentRSS is not read outside Linux: memory figures are then 0.
func currentRSS() uint64 { return 0 }

// machineTicks is not read outside Linux: the steal figure is then 0.
func machineTicks() (total, steal uint64) { return 0, 0 }
