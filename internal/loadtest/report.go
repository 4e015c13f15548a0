package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/idgate/idgate/internal/loadtest/procstat"
	"github.com/idgate/idgate/internal/loadtest/stats"
)

// pair is two servers whose throughput is compared round by round.
type pair struct{ a, b string }

// parsePairs parses "a/b,c/d"; empty means every pair of the first server
// with each other one, plus gosdk/gosdk-noauth when both run.
func parsePairs(s string, specs []spec) ([]pair, error) {
	names := map[string]bool{}
	for _, sp := range specs {
		names[sp.name] = true
	}
	var out []pair
	if strings.TrimSpace(s) == "" {
		for _, sp := range specs[1:] {
			out = append(out, pair{specs[0].name, sp.name})
		}
		if specs[0].name != "gosdk" && names["gosdk"] && names["gosdk-noauth"] {
			out = append(out, pair{"gosdk", "gosdk-noauth"})
		}
		return out, nil
	}
	// Server names may contain commas (modifiers): pairs are then
	// separated by ";", else the parts are glued back until they make A/B
	// with known names.
	sep := ","
	if strings.Contains(s, ";") {
		sep = ";"
	}
	cur := ""
	for _, part := range strings.Split(s, sep) {
		if cur != "" {
			cur += sep
		}
		cur += strings.TrimSpace(part)
		for i := 0; i < len(cur); i++ {
			if cur[i] == '/' && names[cur[:i]] && names[cur[i+1:]] {
				out = append(out, pair{cur[:i], cur[i+1:]})
				cur = ""
				break
			}
		}
	}
	if cur != "" {
		return nil, fmt.Errorf("-pairs: %q is not A/B with A and B among -servers", cur)
	}
	return out, nil
}

// report collects the measurements and prints them as Markdown.
type report struct {
	o        options
	names    []string
	pairs    []pair
	rounds   []map[string]measurement // by round, by server
	peak     map[string]int64
	sessions map[string]measurement
	load     string // /proc/loadavg at the start
	// together are the windows of pairs loaded at the same time.
	together map[pair][][2]measurement
}

func newReport(o options, procs []*process, pairs []pair) *report {
	r := &report{o: o, pairs: pairs, peak: map[string]int64{}, sessions: map[string]measurement{}, load: procstat.LoadAverage(),
		together: map[pair][][2]measurement{}}
	for _, p := range procs {
		r.names = append(r.names, p.name)
	}
	r.rounds = make([]map[string]measurement, o.rounds)
	for i := range r.rounds {
		r.rounds[i] = map[string]measurement{}
	}
	return r
}

func (r *report) add(round int, name string, m measurement) { r.rounds[round][name] = m }

func (r *report) header(w io.Writer) {
	fmt.Fprintf(w, "# idgate load harness\n\n")
	fmt.Fprintf(w, "- %s, %d CPUs (%s), %s\n", runtime.Version(), runtime.NumCPU(), cpuModel(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Fprintf(w, "- servers: GOGC=%s GOMAXPROCS=%s; client: %d connections, %d users, one session per connection\n",
		r.o.gogc, r.o.gomaxprocs, r.o.connections, r.o.users)
	fmt.Fprintf(w, "- %d rounds, each server loaded %v (after %v warm-up) per round, in rotating order\n",
		r.o.rounds, r.o.duration, r.o.warmup)
	if r.o.restart {
		fmt.Fprintf(w, "- every window on a freshly started server process (-restart)\n")
	}
	fmt.Fprintf(w, "- load average at start: %s\n\n", r.load)
}

func (r *report) footer(w io.Writer) {
	fmt.Fprintf(w, "\nload average at end: %s\n", procstat.LoadAverage())
}

// series returns the values f takes on server name's measurements, one
// per round.
func (r *report) series(name string, f func(measurement) float64) []float64 {
	var out []float64
	for _, round := range r.rounds {
		if m, ok := round[name]; ok {
			out = append(out, f(m))
		}
	}
	return out
}

func (r *report) summary(w io.Writer) {
	fmt.Fprintf(w, "## Per server (median of %d rounds)\n\n", r.o.rounds)
	fmt.Fprintln(w, "| server | req/s | p50 | p99 | CPU per request | context switches per request (voluntary + involuntary) | peak RSS | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range r.names {
		errs := 0
		for _, round := range r.rounds {
			errs += round[n].errors
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %.2f + %.2f | %s | %d |\n", n,
			stats.Median(r.series(n, func(m measurement) float64 { return m.rps })),
			round(time.Duration(stats.Median(r.series(n, func(m measurement) float64 { return float64(m.p50) })))),
			round(time.Duration(stats.Median(r.series(n, func(m measurement) float64 { return float64(m.p99) })))),
			round(time.Duration(stats.Median(r.series(n, func(m measurement) float64 { return float64(m.cpuPerReq) })))),
			stats.Median(r.series(n, func(m measurement) float64 { return m.volPerReq })),
			stats.Median(r.series(n, func(m measurement) float64 { return m.involPerReq })),
			mib(r.peak[n]), errs)
	}

	fmt.Fprintf(w, "\n## Pairs (ratio A/B per round; median, min, max)\n\n")
	fmt.Fprintln(w, "| A / B | req/s ratio (median) | min | max | CPU per request B/A (median) | per round |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
	for _, p := range r.pairs {
		var ratios, cpu []float64
		for _, round := range r.rounds {
			a, b := round[p.a], round[p.b]
			if a.rps > 0 && b.rps > 0 {
				ratios = append(ratios, a.rps/b.rps)
			}
			if a.cpuPerReq > 0 && b.cpuPerReq > 0 {
				cpu = append(cpu, float64(b.cpuPerReq)/float64(a.cpuPerReq))
			}
		}
		var each []string
		for _, x := range ratios {
			each = append(each, fmt.Sprintf("%.3f", x))
		}
		fmt.Fprintf(w, "| %s / %s | **%.3f** | %.3f | %.3f | %.3f | %s |\n", p.a, p.b,
			stats.Median(ratios), minOf(ratios), maxOf(ratios), stats.Median(cpu), strings.Join(each, " "))
	}

	fmt.Fprintf(w, "\n## Rounds (req/s)\n\n")
	fmt.Fprintf(w, "| round | %s |\n", strings.Join(r.names, " | "))
	fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---:|", len(r.names)))
	for i, round := range r.rounds {
		var cells []string
		for _, n := range r.names {
			cells = append(cells, fmt.Sprintf("%.0f", round[n].rps))
		}
		fmt.Fprintf(w, "| %d | %s |\n", i+1, strings.Join(cells, " | "))
	}
}

func (r *report) addTogether(p pair, a, b measurement) {
	r.together[p] = append(r.together[p], [2]measurement{a, b})
}

func (r *report) togetherSummary(w io.Writer) {
	fmt.Fprintf(w, "\n## Pairs loaded together (%d windows of %v, %d connections each; ratio A/B per window)\n\n", r.o.together, r.o.duration, r.o.connections)
	fmt.Fprintln(w, "| A / B | req/s ratio (median) | min | max | CPU per request B/A (median) | A req/s, B req/s (medians) | A, B context switches per request (medians) | per window |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---|---|")
	for _, p := range r.pairs {
		var ratios, cpu, ra, rb, swa, swb []float64
		for _, ab := range r.together[p] {
			a, b := ab[0], ab[1]
			ra, rb = append(ra, a.rps), append(rb, b.rps)
			swa, swb = append(swa, a.volPerReq+a.involPerReq), append(swb, b.volPerReq+b.involPerReq)
			if a.rps > 0 && b.rps > 0 {
				ratios = append(ratios, a.rps/b.rps)
			}
			if a.cpuPerReq > 0 && b.cpuPerReq > 0 {
				cpu = append(cpu, float64(b.cpuPerReq)/float64(a.cpuPerReq))
			}
		}
		var each []string
		for _, x := range ratios {
			each = append(each, fmt.Sprintf("%.3f", x))
		}
		fmt.Fprintf(w, "| %s / %s | **%.3f** | %.3f | %.3f | %.3f | %.0f, %.0f | %.2f, %.2f | %s |\n", p.a, p.b,
			stats.Median(ratios), minOf(ratios), maxOf(ratios), stats.Median(cpu), stats.Median(ra), stats.Median(rb), stats.Median(swa), stats.Median(swb), strings.Join(each, " "))
	}
}

func (r *report) sessionSummary(w io.Writer) {
	fmt.Fprintf(w, "\n## %d concurrent sessions (one window of %v)\n\n", r.o.sessions, r.o.sessionsDur)
	fmt.Fprintln(w, "| server | req/s | p50 | p99 | CPU per request | context switches per request | peak RSS | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range r.names {
		m := r.sessions[n]
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %.2f + %.2f | %s | %d |\n", n, m.rps, round(m.p50), round(m.p99), round(m.cpuPerReq), m.volPerReq, m.involPerReq, mib(m.peakRSS), m.errors)
	}
}

func minOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return slices.Min(xs)
}

func maxOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return slices.Max(xs)
}

// round rounds d for display: µs below 10 ms, else 0.1 ms.
func round(d time.Duration) time.Duration {
	if d < 10*time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Microsecond)
}

// mib formats bytes as MiB.
func mib(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// cpuModel returns the CPU's model name, as lscpu or /proc/cpuinfo says.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	if out, err := exec.Command("uname", "-m").Output(); err == nil {
		return string(bytes.TrimSpace(out))
	}
	return "unknown CPU"
}
