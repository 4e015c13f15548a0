// Command benchpair compares the go test benchmarks of two commits side by
// side, in pairs of runs, the way the load harness compares servers: on a
// noisy machine the only figure that holds is the ratio of runs made next
// to each other.
//
// It builds each package's test binary twice, from the working tree and
// from -base (a checkout of the other commit: git worktree add DIR COMMIT),
// then runs the two binaries one after the other -pairs times, the first
// of each pair alternating, and prints per benchmark the median of the
// per-pair ratios new / base of ns/op with its range, and both sides'
// median ns/op, B/op and allocs/op.
//
// Run it from the repository root:
//
//	git worktree add /tmp/base HEAD~1
//	go run ./internal/loadtest/benchpair -base /tmp/base -bench 'BenchmarkChain' ./mcpserver
//	go run ./internal/loadtest/benchpair -base /tmp/base -pairs 10 -benchtime 2s -bench . ./audit ./identity
//
// Each binary runs in its package's directory of its own tree (testdata
// resolves as under go test), with -test.run '^$' and -test.benchmem.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/idgate/idgate/internal/loadtest/procstat"
	"github.com/idgate/idgate/internal/loadtest/stats"
)

// options are the command-line flags and arguments.
type options struct {
	base      string
	bench     string
	benchtime string
	pairs     int
	pkgs      []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err == nil {
		err = run(ctx, o, os.Stdout, os.Stderr)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "benchpair:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("benchpair", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.base, "base", "", "a checkout of the commit to compare against (git worktree add DIR COMMIT); required")
	fs.StringVar(&o.bench, "bench", ".", "benchmarks to run (go test's -bench)")
	fs.StringVar(&o.benchtime, "benchtime", "1s", "go test's -benchtime for every run")
	fs.IntVar(&o.pairs, "pairs", 6, "pairs of runs (base and new, the first of each pair alternating)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: benchpair -base DIR [-bench REGEXP] [-benchtime D] [-pairs N] ./pkg...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.pkgs = fs.Args()
	switch {
	case o.base == "":
		return o, errors.New("-base is required: a checkout of the commit to compare against")
	case o.pairs < 1:
		return o, fmt.Errorf("-pairs must be at least 1, got %d", o.pairs)
	case len(o.pkgs) == 0:
		return o, errors.New("name at least one package, such as ./mcpserver")
	}
	for _, p := range o.pkgs {
		if !strings.HasPrefix(p, "./") || strings.Contains(p, "...") {
			return o, fmt.Errorf("package %q: give a directory relative to the repository root, such as ./mcpserver (no patterns)", p)
		}
	}
	if st, err := os.Stat(o.base); err != nil || !st.IsDir() {
		return o, fmt.Errorf("-base %s is not a directory", o.base)
	}
	return o, nil
}

// side is one of the two trees.
type side int

const (
	baseSide side = iota
	newSide
)

func (s side) String() string { return [...]string{"base", "new"}[s] }

// binary is one package's test binary built from one tree.
type binary struct {
	path string // the executable
	dir  string // the package's directory in its tree, where it runs
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	trees := [2]string{o.base, root}
	tmp, err := os.MkdirTemp("", "benchpair-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	bins := make([][2]binary, len(o.pkgs))
	for i, pkg := range o.pkgs {
		for _, s := range []side{baseSide, newSide} {
			out := filepath.Join(tmp, fmt.Sprintf("%s-%d.test", s, i))
			fmt.Fprintf(stderr, "building %s (%s)…\n", pkg, s)
			if err := build(ctx, trees[s], pkg, out); err != nil {
				return fmt.Errorf("%s (%s): %w", pkg, s, err)
			}
			bins[i][s] = binary{path: out, dir: filepath.Join(trees[s], filepath.FromSlash(pkg))}
		}
	}

	load := procstat.LoadAverage()
	res := newResults()
	for p := range o.pairs {
		order := []side{baseSide, newSide}
		if p%2 == 1 {
			order = []side{newSide, baseSide}
		}
		for i, pkg := range o.pkgs {
			var pair [2][]result
			for _, s := range order {
				out, err := runBinary(ctx, bins[i][s], o)
				if err != nil {
					return fmt.Errorf("%s (%s), pair %d: %w", pkg, s, p+1, err)
				}
				pair[s] = parse(out)
			}
			res.add(pkg, pair)
		}
		fmt.Fprintf(stderr, "pair %d of %d done\n", p+1, o.pairs)
	}
	fmt.Fprintf(stdout, "# benchmarks, pairs of runs: new (%s) / base (%s)\n\n", root, o.base)
	fmt.Fprintf(stdout, "- %d pairs, -benchtime %s, the first run of each pair alternating\n", o.pairs, o.benchtime)
	fmt.Fprintf(stdout, "- load average at start: %s, at end: %s\n\n", load, procstat.LoadAverage())
	res.write(stdout, len(o.pkgs) > 1)
	return nil
}

// build compiles pkg's test binary in tree to out.
func build(ctx context.Context, tree, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", out, pkg)
	cmd.Dir = tree
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go test -c: %v\n%s", err, msg.Bytes())
	}
	if _, err := os.Stat(out); err != nil {
		return fmt.Errorf("no test binary (a package without tests?): %s", strings.TrimSpace(msg.String()))
	}
	return nil
}

// runBinary runs the benchmarks of b and returns its output.
func runBinary(ctx context.Context, b binary, o options) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.path, "-test.run", "^$", "-test.bench", o.bench,
		"-test.benchtime", o.benchtime, "-test.benchmem")
	cmd.Dir = b.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out.Bytes())
	}
	return out.Bytes(), nil
}

// result is one benchmark line of one run.
type result struct {
	name           string
	nsPerOp        float64
	bytesPerOp     float64 // -1 when not reported
	allocsPerOp    float64 // -1 when not reported
	hasMemoryStats bool
}

// parse reads the benchmark lines of go test's output:
//
//	BenchmarkName-2   1000000   1234 ns/op   56 B/op   3 allocs/op
//
// Other lines (goos:, PASS, ok, a benchmark's own logging) are skipped.
func parse(out []byte) []result {
	var rs []result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
			continue // not a result line
		}
		r := result{name: f[0], nsPerOp: -1, bytesPerOp: -1, allocsPerOp: -1}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			switch f[i+1] {
			case "ns/op":
				r.nsPerOp = v
			case "B/op":
				r.bytesPerOp, r.hasMemoryStats = v, true
			case "allocs/op":
				r.allocsPerOp = v
			}
		}
		if r.nsPerOp >= 0 {
			rs = append(rs, r)
		}
	}
	return rs
}

// results collects the runs of every benchmark, in the order first seen.
type results struct {
	order []string
	runs  map[string]*series
}

// series is one benchmark's figures over the pairs.
type series struct {
	pkg, name string
	side      [2][]result
	ratios    []float64 // new / base ns/op, per pair where both ran
}

func newResults() *results { return &results{runs: map[string]*series{}} }

// add records one pair of runs of pkg.
func (rs *results) add(pkg string, pair [2][]result) {
	for _, s := range []side{baseSide, newSide} {
		for _, r := range pair[s] {
			se := rs.get(pkg, r.name)
			se.side[s] = append(se.side[s], r)
		}
	}
	for _, b := range pair[baseSide] {
		for _, n := range pair[newSide] {
			if n.name == b.name && b.nsPerOp > 0 {
				se := rs.get(pkg, b.name)
				se.ratios = append(se.ratios, n.nsPerOp/b.nsPerOp)
				break
			}
		}
	}
}

func (rs *results) get(pkg, name string) *series {
	k := pkg + " " + name
	se := rs.runs[k]
	if se == nil {
		se = &series{pkg: pkg, name: name}
		rs.runs[k] = se
		rs.order = append(rs.order, k)
	}
	return se
}

// write prints the table: per benchmark, the median ratio new / base of
// ns/op over the pairs, its range, and each side's medians.
func (rs *results) write(w io.Writer, withPkg bool) {
	fmt.Fprintln(w, "| benchmark | new / base ns/op (median) | min | max | base ns/op | new ns/op | base B/op, allocs | new B/op, allocs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, k := range rs.order {
		se := rs.runs[k]
		name := se.name
		if withPkg {
			name = se.pkg + " " + name
		}
		ratio, lo, hi := "only in "+onlyIn(se), "", ""
		if len(se.ratios) > 0 {
			ratio = fmt.Sprintf("**%.3f**", stats.Median(se.ratios))
			lo, hi = fmt.Sprintf("%.3f", slices.Min(se.ratios)), fmt.Sprintf("%.3f", slices.Max(se.ratios))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, ratio, lo, hi,
			nsCell(se.side[baseSide]), nsCell(se.side[newSide]), memCell(se.side[baseSide]), memCell(se.side[newSide]))
	}
}

// onlyIn names the side a benchmark without ratios ran on.
func onlyIn(se *series) string {
	if len(se.side[baseSide]) == 0 {
		return "new"
	}
	return "base"
}

func nsCell(rs []result) string {
	if len(rs) == 0 {
		return "–"
	}
	return strconv.FormatFloat(stats.Median(pick(rs, func(r result) float64 { return r.nsPerOp })), 'f', -1, 64)
}

func memCell(rs []result) string {
	if len(rs) == 0 || !rs[0].hasMemoryStats {
		return "–"
	}
	b := stats.Median(pick(rs, func(r result) float64 { return r.bytesPerOp }))
	a := stats.Median(pick(rs, func(r result) float64 { return r.allocsPerOp }))
	return fmt.Sprintf("%g B, %g", b, a)
}

func pick(rs []result, f func(result) float64) []float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return xs
}
