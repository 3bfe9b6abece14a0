package service

import (
	"context"
	"errors"
	"sync"
)

// group runs actors together: when the first one returns, the others are asked to
// stop (their context is cancelled) and Run waits for all of them.
type group struct {
	actors []actor
}

type actor struct {
	name string
	run  func(ctx context.Context) error
}

func (g *group) add(name string, run func(ctx context.Context) error) {
	g.actors = append(g.actors, actor{name: name, run: run})
}

// run runs every actor until ctx is done or one of them returns. It returns the
// first error of an actor that stopped by itself, or nil when ctx ended the group.
func (g *group) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, a := range g.actors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := a.run(ctx)
			once.Do(func() {
				if ctx.Err() == nil {
					if err == nil {
						err = errors.New(a.name + " stopped")
					}
					first = errors.New(a.name + ": " + err.Error())
				}
			})
			cancel()
		}()
	}
	wg.Wait()
	return first
}
