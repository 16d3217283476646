package configfile

import (
	"encoding"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// unknownPrefix walks rel (a key path relative to the plugin table) through
// type t the way BurntSushi matches fields, and returns the index of the first
// component that matches no field, with the field names known at that level.
// It returns -1 when the path is accepted: matched all the way, or reached a
// map, a scalar, a TextUnmarshaler, a Primitive or an interface (those either
// take any key or fail decoding with a type error of their own).
func unknownPrefix(t reflect.Type, rel []string) (int, []string) {
	for i, name := range rel {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			if acceptsAnything(t) {
				return -1, nil
			}
			t = t.Elem()
		}
		if acceptsAnything(t) {
			return -1, nil
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			fields := structFields(t)
			f, ok := matchField(fields, name)
			if !ok {
				names := make([]string, 0, len(fields))
				for n := range fields {
					names = append(names, n)
				}
				sort.Strings(names)
				return i, names
			}
			t = f
		default:
			return -1, nil
		}
	}
	return -1, nil
}

func acceptsAnything(t reflect.Type) bool {
	textType := reflect.TypeFor[encoding.TextUnmarshaler]()
	tomlType := reflect.TypeFor[toml.Unmarshaler]()
	if t.Kind() == reflect.Interface || t == reflect.TypeFor[toml.Primitive]() {
		return true
	}
	return t.Implements(textType) || t.Implements(tomlType) ||
		reflect.PointerTo(t).Implements(textType) || reflect.PointerTo(t).Implements(tomlType)
}

// structFields returns the TOML names of t's fields, with the fields of
// untagged embedded structs flattened in, as BurntSushi does.
func structFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() && !sf.Anonymous {
				continue
			}
			tag, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
			if tag == "-" {
				continue
			}
			ft := sf.Type
			if ft.Kind() == reflect.Pointer && ft.Name() == "" {
				ft = ft.Elem()
			}
			if sf.Anonymous && tag == "" && ft.Kind() == reflect.Struct {
				if depth < 10 { // guard against pathological recursion
					walk(ft, depth+1)
				}
				continue
			}
			if !sf.IsExported() {
				continue
			}
			name := tag
			if name == "" {
				name = sf.Name
			}
			if _, dup := fields[name]; !dup {
				fields[name] = ft
			}
		}
	}
	walk(t, 0)
	return fields
}

// matchField mirrors BurntSushi: exact name first, then case-insensitive.
func matchField(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t, ok := fields[key]; ok {
		return t, true
	}
	for name, t := range fields {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}

// suggest returns the known name closest to key (edit distance <= 2, and
// shorter than key so that one-letter keys get no random suggestion).
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		d := editDistance(strings.ToLower(key), strings.ToLower(k))
		if d < bestDist && d < len(key) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance over bytes (keys are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
