// Package cputime measures the process's CPU time in benchmarks, for machines whose
// cores are shared and whose wall-clock times vary from run to run.
package cputime

import (
	"syscall"
	"testing"
	"time"
)

// Clock sums the process's user and system CPU time (getrusage) over the timed parts
// of a benchmark. Its metric cpu-ns/op stays meaningful when other processes share the
// cores and stretch the wall-clock ns/op, but it also counts the garbage collector and
// any other goroutine of the test binary.
type Clock struct {
	b       *testing.B
	total   time.Duration
	started time.Duration
	ops     int
}

// New returns a clock that reports to b.
func New(b *testing.B) *Clock { return &Clock{b: b} }

// Start begins one timed operation.
func (c *Clock) Start() { c.started = processCPUTime(c.b) }

// Stop ends the timed operation that Start began.
func (c *Clock) Stop() {
	c.total += processCPUTime(c.b) - c.started
	c.ops++
}

// Report adds the metric cpu-ns/op to the benchmark's result.
func (c *Clock) Report() {
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
