// Command passerelle bridges NATS JetStream CloudEvents to the French
// administration's APIs: invoices to Chorus Pro, declarations to PASRAU.
//
// Run `passerelle --help` for the subcommands.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "passerelle:", err)
		os.Exit(exitCode(err))
	}
}
