// Package cputime reads the CPU time of this process, for benchmarks that
// report it beside wall time: on a machine shared with other work, wall
// time per operation includes waiting for a CPU, CPU time does not.
package cputime
