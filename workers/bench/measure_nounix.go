//go:build !unix

package bench

import "time"

// processCPU is not measured outside Unix systems: CPU figures are then 0.
func processCPU() time.Duration { return 0 }
