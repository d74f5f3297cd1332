package lesions

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock sums the process's user and system CPU time (getrusage) over the timed parts
// of a benchmark. Its metric cpu-ns/op stays meaningful when other processes share the
// cores and stretch the wall-clock ns/op, but it also counts the garbage collector and
// any other goroutine of the test binary.
type cpuClock struct {
	b       *testing.B
	total   time.Duration
	started time.Duration
	ops     int
}

func (c *cpuClock) start() { c.started = processCPUTime(c.b) }

func (c *cpuClock) stop() {
	c.total += processCPUTime(c.b) - c.started
	c.ops++
}

// report adds the metric cpu-ns/op to the benchmark's result.
func (c *cpuClock) report() {
	if c.ops > 0 {
		c.b.ReportMetric(float64(c.total.Nanoseconds())/float64(c.ops), "cpu-ns/op")
	}
}

func processCPUTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
