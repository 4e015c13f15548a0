package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/idgate/idgate/mcpserver
cpu: AMD EPYC
BenchmarkChain/full-2         	  365235	      3496 ns/op	    1400 B/op	      11 allocs/op
BenchmarkChain/no_audit-2     	  358922	      3418.5 ns/op
    chain_bench_internal_test.go:12: a benchmark's own log line
BenchmarkLogOnly says something
BenchmarkHandler/stateful/gosdk-2         	    7707	    155924 ns/op	  275148 B/op	     155 allocs/op	 12.5 MB/s
PASS
ok  	github.com/idgate/idgate/mcpserver	31.755s
`
	got := parse([]byte(out))
	require.Len(t, got, 3)
	assert.Equal(t, result{name: "BenchmarkChain/full-2", nsPerOp: 3496, bytesPerOp: 1400, allocsPerOp: 11, hasMemoryStats: true}, got[0])
	assert.Equal(t, result{name: "BenchmarkChain/no_audit-2", nsPerOp: 3418.5, bytesPerOp: -1, allocsPerOp: -1}, got[1])
	assert.Equal(t, result{name: "BenchmarkHandler/stateful/gosdk-2", nsPerOp: 155924, bytesPerOp: 275148, allocsPerOp: 155, hasMemoryStats: true}, got[2])
}

func TestResults(t *testing.T) {
	rs := newResults()
	r := func(name string, ns float64) result {
		return result{name: name, nsPerOp: ns, bytesPerOp: 64, allocsPerOp: 2, hasMemoryStats: true}
	}
	// Three pairs: new / base 0.5, 0.8, 1.1 for A; B only in base; C only in new.
	rs.add("./p", [2][]result{{r("BenchmarkA", 100), r("BenchmarkB", 7)}, {r("BenchmarkA", 50), r("BenchmarkC", 9)}})
	rs.add("./p", [2][]result{{r("BenchmarkA", 100), r("BenchmarkB", 7)}, {r("BenchmarkA", 80), r("BenchmarkC", 9)}})
	rs.add("./p", [2][]result{{r("BenchmarkA", 200), r("BenchmarkB", 7)}, {r("BenchmarkA", 220), r("BenchmarkC", 9)}})
	a := rs.runs["./p BenchmarkA"]
	require.NotNil(t, a)
	assert.InDeltaSlice(t, []float64{0.5, 0.8, 1.1}, a.ratios, 1e-9)

	var b strings.Builder
	rs.write(&b, false)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 5) // header, rule, A, B, C in the order first seen
	assert.Equal(t, "| BenchmarkA | **0.800** | 0.500 | 1.100 | 100 | 80 | 64 B, 2 | 64 B, 2 |", lines[2])
	assert.Equal(t, "| BenchmarkB | only in base |  |  | 7 | – | 64 B, 2 | – |", lines[3])
	assert.Equal(t, "| BenchmarkC | only in new |  |  | – | 9 | – | 64 B, 2 |", lines[4])

	b.Reset()
	rs.write(&b, true)
	assert.Contains(t, b.String(), "| ./p BenchmarkA | **0.800** |")
}

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"./p"}, wantErr: "-base is required"},
		{args: []string{"-base", dir}, wantErr: "at least one package"},
		{args: []string{"-base", dir, "-pairs", "0", "./p"}, wantErr: "-pairs must be at least 1"},
		{args: []string{"-base", dir, "mcpserver"}, wantErr: "relative to the repository root"},
		{args: []string{"-base", dir, "./..."}, wantErr: "no patterns"},
		{args: []string{"-base", filepath.Join(dir, "absent"), "./p"}, wantErr: "is not a directory"},
		{args: []string{"-base", dir, "-bench", "Chain", "./p", "./q"}},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if tc.wantErr != "" {
			require.ErrorContains(t, err, tc.wantErr, "%q", tc.args)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, options{base: dir, bench: "Chain", benchtime: "1s", pairs: 6, pkgs: []string{"./p", "./q"}}, o)
	}
}

// TestRun builds and runs the benchmarks of two small modules standing for
// two commits, each binary in its own tree's package directory (each
// benchmark reads its tree's testdata).
func TestRun(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("no go command: %v", err)
	}
	base, cur := t.TempDir(), t.TempDir()
	for tree, n := range map[string]string{base: "base", cur: "new"} {
		writeFile(t, filepath.Join(tree, "go.mod"), "module example.com/bp\n\ngo 1.22\n")
		writeFile(t, filepath.Join(tree, "p", "p.go"), "package p\n")
		writeFile(t, filepath.Join(tree, "p", "testdata", "tree.txt"), n)
		writeFile(t, filepath.Join(tree, "p", "p_test.go"), `package p

import (
	"os"
	"testing"
)

func BenchmarkTree(b *testing.B) {
	tree, err := os.ReadFile("testdata/tree.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = string(tree)
	}
}

func Benchmark_`+n+`Only(b *testing.B) {
	for b.Loop() {
	}
}
`)
	}
	t.Chdir(cur)
	var out, log bytes.Buffer
	err := run(context.Background(), options{base: base, bench: ".", benchtime: "100x", pairs: 2, pkgs: []string{"./p"}}, &out, &log)
	require.NoError(t, err, log.String())
	s := out.String()
	assert.Contains(t, s, "- 2 pairs, -benchtime 100x")
	assert.Regexp(t, regexp.MustCompile(`\| BenchmarkTree(-\d+)? \| \*\*\d+\.\d{3}\*\* \| \d+\.\d{3} \| \d+\.\d{3} \| [\d.]+ \| [\d.]+ \| [\d.]+ B, [\d.]+ \| [\d.]+ B, [\d.]+ \|`), s) // medians of an even count may be halves
	assert.Regexp(t, `\| Benchmark_baseOnly(-\d+)? \| only in base \|`, s)
	assert.Regexp(t, `\| Benchmark_newOnly(-\d+)? \| only in new \|`, s)
	assert.Contains(t, log.String(), "pair 2 of 2 done")

	// A benchmark that fails fails the run, naming the side.
	require.NoError(t, os.Remove(filepath.Join(cur, "p", "testdata", "tree.txt")))
	err = run(context.Background(), options{base: base, bench: "Tree", benchtime: "1x", pairs: 1, pkgs: []string{"./p"}}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "./p (new), pair 1")

	// A package without tests is refused at build time.
	writeFile(t, filepath.Join(cur, "q", "q.go"), "package q\n")
	writeFile(t, filepath.Join(base, "q", "q.go"), "package q\n")
	err = run(context.Background(), options{base: base, bench: ".", benchtime: "1x", pairs: 1, pkgs: []string{"./q"}}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "no test binary")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}
