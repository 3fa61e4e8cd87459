// Package province is Vietnam's official list of provincial-level units
// (provinces and centrally governed cities) by their two-digit codes, shipped
// as versioned data: the list changes (units merge and split), so it is a
// file, provinces-<version>.json, not code. Accounts, cases, venues and
// declarations name provinces by these codes.
package province

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Current is the version of the list this build uses: the 63 units of 2021.
const Current = "2021"

// Unit is one province or centrally governed city.
type Unit struct {
	Code string `json:"code"` // two digits, e.g. "01" Hà Nội, "79" TP. Hồ Chí Minh
	Name string `json:"name"`
	City bool   `json:"city"` // a centrally governed city
}

// List is one version of the list. It is read-only once loaded.
type List struct {
	Version string `json:"version"`
	Source  string `json:"source"`
	Units   []Unit `json:"units"`
	byCode  map[string]Unit
}

// ErrUnknown is returned for a code not in the list.
var ErrUnknown = errors.New("unknown province code")

//go:embed provinces-*.json
var files embed.FS

// Load reads version v of the list.
func Load(v string) (*List, error) {
	b, err := files.ReadFile("provinces-" + v + ".json")
	if err != nil {
		return nil, fmt.Errorf("province list %q: %w", v, err)
	}
	var l List
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("province list %q: %w", v, err)
	}
	l.byCode = make(map[string]Unit, len(l.Units))
	for _, u := range l.Units {
		if len(u.Code) != 2 || u.Code[0] < '0' || u.Code[0] > '9' || u.Code[1] < '0' || u.Code[1] > '9' {
			return nil, fmt.Errorf("province list %q: code %q is not two digits", v, u.Code)
		}
		if _, dup := l.byCode[u.Code]; dup {
			return nil, fmt.Errorf("province list %q: code %q twice", v, u.Code)
		}
		l.byCode[u.Code] = u
	}
	sort.Slice(l.Units, func(i, j int) bool { return l.Units[i].Code < l.Units[j].Code })
	return &l, nil
}

var current = sync.OnceValues(func() (*List, error) { return Load(Current) })

// Default returns the current list. The shipped file is checked by the
// tests, so an error here means a broken build.
func Default() *List {
	l, err := current()
	if err != nil {
		panic("BUG: shipped province list: " + err.Error())
	}
	return l
}

// Lookup returns the unit with code.
func (l *List) Lookup(code string) (Unit, error) {
	u, ok := l.byCode[code]
	if !ok {
		return Unit{}, fmt.Errorf("%w: %q", ErrUnknown, code)
	}
	return u, nil
}

// Valid reports whether code is in the list.
func (l *List) Valid(code string) bool {
	_, ok := l.byCode[code]
	return ok
}
