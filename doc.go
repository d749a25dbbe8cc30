// Package hrgate holds the domain of the hrgate gateway: the unified HR model
// (companies, employees and their field groups, time off, teams, locations),
// the consumers that read it and their credentials, the closed set of error
// kinds, and the interfaces that storage and transport adapters implement.
//
// The package imports nothing else of this module. Adapters live in
// sub-packages named after what they wrap (sqlstore, http, sandbox), the
// scope grammar, field catalogue and projection live in package grant, and
// cmd/hrgate wires them together.
package hrgate
