//go:build race

package chaos

// raceBuild is true when the tests run with -race: the binaries are then built
// with -race too, which reuses the packages the race build already compiled and
// has the race detector watch the workers under fire.
const raceBuild = true
