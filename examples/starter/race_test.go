//go:build race

package main

// starterBuildFlags are the flags buildStarter builds the binary with: with
// the race detector when the tests run with it, so that the replica
// processes are checked too.
var starterBuildFlags = []string{"-race"}
