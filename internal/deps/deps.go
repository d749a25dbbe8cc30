// Package deps pins the module's third-party dependencies while the
// packages that use them are written in parallel. It is removed once they
// import these themselves.
package deps

import (
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/spf13/cobra"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
