//go:build !unix

package bench

import "time"

// ProcessCPU is not measured outside Unix systems: CPU figures are then 0.
func ProcessCPU() time.Duration { return 0 }
