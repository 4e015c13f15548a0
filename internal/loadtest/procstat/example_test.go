package procstat_test

import (
	"fmt"
	"os"

	"github.com/idgate/idgate/internal/loadtest/procstat"
)

func Example() {
	pid := os.Getpid()
	before, _ := procstat.CPU(pid)
	// ... load the process ...
	after, _ := procstat.CPU(pid)
	peak, _ := procstat.PeakRSS(pid)
	fmt.Println(after >= before, peak > 0)
	// Output: true true
}
