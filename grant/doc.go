// Package grant is the one place that decides what a consumer may see: the
// scope grammar of BRIEF.md ("employees:read:identity", "companies:acme"),
// the catalogue of every field hrgate outputs, and the projection that
// renders objects as JSON through a grant.
//
// The three live together on purpose. The REST API, webhook payloads and
// SFTP exports all call this package, so they cannot disagree about which
// field a scope names, and the catalogue cannot drift from what is written:
// the projection is driven by the catalogue's own declarations.
//
// The rules the package enforces:
//
//   - A field outside the grant is absent, never null; an empty value inside
//     the grant is null.
//   - read of a field group implies read_masked of it; write implies
//     nothing else.
//   - A scope that does not parse is an error naming the offending token;
//     nothing is ever silently widened.
package grant
