// Package config loads and validates Portcullis configuration: the platform
// settings (from a YAML file and PORTCULLIS_* environment variables) and the
// tenant configurations (YAML files in a directory, and the same schema
// stored in the database).
package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// Problem is one thing wrong with a setting.
type Problem struct {
	Field  string
	Reason string
}

// Error lists every problem found in the platform configuration.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Reason
	}
	return "invalid configuration: " + strings.Join(parts, "; ")
}

// decodeProblems turns mapstructure's errors into field problems that say
// what was expected, in the configuration's own names.
func decodeProblems(err error) []Problem {
	var out []Problem
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		de, ok := err.(*mapstructure.DecodeError)
		if !ok {
			if inner := errors.Unwrap(err); inner != nil {
				walk(inner)
				return
			}
			out = append(out, Problem{Field: "(document)", Reason: err.Error()})
			return
		}
		var nested *mapstructure.DecodeError
		if _, multi := de.Unwrap().(interface{ Unwrap() []error }); multi || errors.As(de.Unwrap(), &nested) {
			walk(de.Unwrap())
			return
		}
		name, inner := mapKeysDotted(de.Name()), de.Unwrap()
		if msg := inner.Error(); strings.HasPrefix(msg, "has invalid keys: ") {
			for _, k := range strings.Split(strings.TrimPrefix(msg, "has invalid keys: "), ", ") {
				out = append(out, Problem{Field: joinField(name, k), Reason: "is not a known setting"})
			}
			return
		}
		var ut *mapstructure.UnconvertibleTypeError
		var pe *mapstructure.ParseError
		switch {
		case errors.As(inner, &ut):
			out = append(out, Problem{Field: name, Reason: fmt.Sprintf("must be %s, got %s", kindName(ut.Expected.Type()), kindName(reflect.TypeOf(ut.Value)))})
		case errors.As(inner, &pe):
			out = append(out, Problem{Field: name, Reason: fmt.Sprintf("must be %s, got %v", kindName(pe.Expected.Type()), pe.Value)})
		case strings.HasPrefix(inner.Error(), "source data must be an array or slice, got "):
			out = append(out, Problem{Field: name, Reason: "must be a list, got a " + strings.TrimPrefix(inner.Error(), "source data must be an array or slice, got ")})
		default:
			out = append(out, Problem{Field: name, Reason: inner.Error()})
		}
	}
	walk(err)
	slices.SortStableFunc(out, func(a, b Problem) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// mapKey is a map key in a decoder's field name ("roles[support]"): any
// index that is not a number.
var mapKey = regexp.MustCompile(`\[([^\]0-9][^\]]*)\]`)

// mapKeysDotted writes the map keys of a field name as the configuration
// does: roles[support].rank is roles.support.rank; list indexes stay
// (required_roles[1]).
func mapKeysDotted(name string) string { return mapKey.ReplaceAllString(name, ".$1") }

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "nothing"
	}
	switch t.String() {
	case "time.Duration":
		return "a duration such as 15m or 1h30m"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}
