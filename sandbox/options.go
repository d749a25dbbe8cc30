// Package sandbox generates the synthetic companies and employees of
// hrgate's sandbox. The data looks real to the integrations built against it
// (valid IBAN and routing checksums, plausible salaries, per-country address
// formats) while every personal identifier comes from a range that is
// reserved for fiction or never issued, so the sandbox can never hold, leak
// or be mistaken for a real person's data.
//
// Generation is deterministic: the same Options produce byte-identical data,
// ids included. It streams batches, so a company of a million employees needs
// no more memory than a company of ten.
package sandbox

import (
	"time"

	"github.com/hrgate/hrgate"
)

// Limits of Options.
const (
	MaxCompanies     = 50
	MaxEmployees     = 1_000_000
	MaxBatchSize     = 100_000
	DefaultBatchSize = 1000
)

// Options controls what Generate produces.
type Options struct {
	// Companies is the number of companies, from 1 to MaxCompanies.
	Companies int
	// Employees is the number of employees per company, from 1 to
	// MaxEmployees.
	Employees int
	// Seed selects the data set: the same seed gives byte-identical data,
	// ids included; another seed gives other data.
	Seed int64
	// Now is the reference "today": every date is placed relative to it and
	// no CreatedAt or ModifiedAt is after it. It is injected so that a run
	// can be reproduced; Generate never reads the clock.
	Now time.Time
	// BatchSize is the number of employees per emitted batch; 0 means
	// DefaultBatchSize.
	BatchSize int
}

// The range of Now. Dates of birth lie in 1960–2005 and employees are adults
// when they start, so a Now before 2000 leaves too few possible birth dates;
// the upper bound keeps every generated date a four-digit year.
var (
	minNow = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxNow = time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// Validate returns an EINVALID *hrgate.Error naming the first option that is
// out of range, or nil.
func (o Options) Validate() error {
	switch {
	case o.Companies < 1 || o.Companies > MaxCompanies:
		return hrgate.Errorf(hrgate.EINVALID, "companies must be between 1 and %d", MaxCompanies)
	case o.Employees < 1 || o.Employees > MaxEmployees:
		return hrgate.Errorf(hrgate.EINVALID, "employees must be between 1 and %d", MaxEmployees)
	case o.Now.IsZero():
		return hrgate.Errorf(hrgate.EINVALID, "now must be set")
	case o.Now.Before(minNow) || o.Now.After(maxNow):
		return hrgate.Errorf(hrgate.EINVALID, "now must be between 2000-01-01 and 2999-12-31")
	case o.BatchSize < 0 || o.BatchSize > MaxBatchSize:
		return hrgate.Errorf(hrgate.EINVALID, "batch size must be between 0 and %d", MaxBatchSize)
	}
	return nil
}

// batchSize returns BatchSize with its default applied.
func (o Options) batchSize() int {
	if o.BatchSize == 0 {
		return DefaultBatchSize
	}
	return o.BatchSize
}
