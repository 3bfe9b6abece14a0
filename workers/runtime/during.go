package runtime

// During runs side in a goroutine of its own while main runs, and returns both
// their errors once both are over: a handler publishes a status event while it
// waits for an administration's answer, one round trip fewer.
func During(main, side func() error) (mainErr, sideErr error) {
	done := make(chan error, 1)
	go func() { done <- side() }()
	mainErr = main()
	return mainErr, <-done
}
