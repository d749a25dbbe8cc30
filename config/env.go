package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/hrgate/hrgate"
)

// EnvPrefix starts every environment variable hrgate reads.
const EnvPrefix = "HRGATE_"

// envIgnored are HRGATE_ variables that belong to other parts of the
// system (tests, secrets read elsewhere) and are not configuration keys.
var envIgnored = []string{"HRGATE_TEST_", MasterKeyEnv}

// applyEnv sets keys from HRGATE_SECTION__KEY variables: "__" separates
// sections, the rest is the key's YAML name in upper case.
func (c *Config) applyEnv(environ []string) (warnings []string, err error) {
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		if ignoredEnv(name) {
			continue
		}
		key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, EnvPrefix), "__", "."))
		if err := c.Set(key, value); err != nil {
			if errors.Is(err, errUnknownKey) {
				warnings = append(warnings, fmt.Sprintf("environment variable %s does not name a configuration key; ignored", name))
				continue
			}
			return nil, fmt.Errorf("config: environment variable %s: %w", name, err)
		}
	}
	return warnings, nil
}

func ignoredEnv(name string) bool {
	for _, p := range envIgnored {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

var errUnknownKey = errors.New("unknown configuration key")

// Set assigns value, written as text, to the key with the given dotted YAML
// name ("http.addr"). Flags and environment variables both go through it.
func (c *Config) Set(key, value string) error {
	v := reflect.ValueOf(c).Elem()
	parts := strings.Split(key, ".")
	for i, part := range parts {
		f, ok := fieldByYAMLName(v, part)
		if !ok {
			return fmt.Errorf("%w %q", errUnknownKey, key)
		}
		if i == len(parts)-1 {
			if f.Kind() == reflect.Struct {
				return fmt.Errorf("%w %q (it is a section)", errUnknownKey, key)
			}
			if err := setText(f, value); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			return nil
		}
		if f.Kind() != reflect.Struct {
			return fmt.Errorf("%w %q", errUnknownKey, key)
		}
		v = f
	}
	return fmt.Errorf("%w %q", errUnknownKey, key)
}

func fieldByYAMLName(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

var durationType = reflect.TypeOf(Duration(0))

func setText(f reflect.Value, value string) error {
	if f.Type() == durationType {
		d, err := hrgate.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("%q is not a duration (use e.g. 30s, 5m, 1h, 90d)", value)
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%q is not a boolean (use true or false)", value)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", value)
		}
		f.SetInt(n)
	case reflect.Slice:
		var items []string
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from text")
	}
	return nil
}
