//go:build !race

package main

// starterBuildFlags are the flags buildStarter builds the binary with: with
// the race detector when the tests run with it (race_test.go).
var starterBuildFlags []string
