// Package checklist is the Safety Map's daily self-check: for each venue
// kind, a versioned list of anti-epidemic measures (Vietnamese and English
// text, a weight, whether it is critical), shipped as data under shipped/
// and validated when loaded, and the scoring rule that turns a venue's
// answers into a score and a level (DESIGN "Safety Map").
//
// Scoring. score is the weighted share of items met, 0–100, kept in tenths
// and rounded down: Tenths = floor(1000 · met / total). Rounding down makes
// the level boundaries exact: a score shown as 90.0 or more is at least 90 %
// met, and 89.95 % shows as 89.9 and is yellow, never a "90.0" that is not
// green. level is red when any critical item is not met, else green from
// 90.0, yellow from 70.0, orange from 50.0 and red below.
package checklist

import (
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/truyvet/truyvet/venue"
)

// Level is a venue's safety level on a day. It is a closed set, safe as a
// metric label.
type Level string

// The levels, from safest.
const (
	LevelGreen       Level = "green"
	LevelYellow      Level = "yellow"
	LevelOrange      Level = "orange"
	LevelRed         Level = "red"
	LevelNotAssessed Level = "not_assessed" // no assessment for that local day
)

// Levels lists every Level, for metric series and counts.
func Levels() []Level {
	return []Level{LevelGreen, LevelYellow, LevelOrange, LevelRed, LevelNotAssessed}
}

// Valid reports whether l is one of Levels.
func (l Level) Valid() bool { return slices.Contains(Levels(), l) }

// Boundaries of the levels, in tenths of a percent.
const (
	GreenTenths  = 900
	YellowTenths = 700
	OrangeTenths = 500
	MaxTenths    = 1000
)

// Text is an item's text in Vietnamese and English.
type Text struct {
	VI string `json:"vi"`
	EN string `json:"en"`
}

// Item is one measure of a checklist.
type Item struct {
	ID       string `json:"id"`
	Text     Text   `json:"text"`
	Weight   int    `json:"weight"`
	Critical bool   `json:"critical"`
}

// Checklist is one version of a named checklist and the venue kinds it is for.
type Checklist struct {
	Name    string       `json:"name"`
	Version uint32       `json:"version"`
	Kinds   []venue.Kind `json:"kinds"`
	Source  string       `json:"source,omitempty"` // what it was drawn from
	Items   []Item       `json:"items"`
}

// Bounds of a checklist.
const (
	MaxItems     = 64
	MaxWeight    = 100
	MaxTextRunes = 300
	MaxIDBytes   = 40
)

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Item returns the item with id, or false.
func (c *Checklist) Item(id string) (Item, bool) {
	for _, it := range c.Items {
		if it.ID == id {
			return it, true
		}
	}
	return Item{}, false
}

// TotalWeight is the sum of the items' weights.
func (c *Checklist) TotalWeight() int {
	n := 0
	for _, it := range c.Items {
		n += it.Weight
	}
	return n
}

// Result is an assessment's score and level.
type Result struct {
	Tenths int   // floor(1000 · met weight / total weight)
	Level  Level // by the rule in the package doc
}

// Score is the score in percent with one decimal, as answers carry it.
func (r Result) Score() float64 { return float64(r.Tenths) / 10 }

// LevelOf is the level of a score in tenths when every critical item is met
// (criticalMet) or not.
func LevelOf(tenths int, criticalMet bool) Level {
	switch {
	case !criticalMet:
		return LevelRed
	case tenths >= GreenTenths:
		return LevelGreen
	case tenths >= YellowTenths:
		return LevelYellow
	case tenths >= OrangeTenths:
		return LevelOrange
	default:
		return LevelRed
	}
}

// Errors of scoring.
var (
	ErrUnknownItem = errors.New("not an item of the checklist")
	ErrMissingItem = errors.New("item not answered")
)

// ItemError names the item of an answer set at fault.
type ItemError struct {
	Item string
	Err  error
}

func (e *ItemError) Error() string { return fmt.Sprintf("%.60q: %v", e.Item, e.Err) }
func (e *ItemError) Unwrap() error { return e.Err }

// Score scores answers (item id → met), which must answer every item and
// nothing else (an *ItemError otherwise: the unknown item first, in id
// order, then the first unanswered item in checklist order).
func (c *Checklist) Score(answers map[string]bool) (Result, error) {
	ids := make([]string, 0, len(answers))
	for id := range answers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if _, ok := c.Item(id); !ok {
			return Result{}, &ItemError{Item: id, Err: ErrUnknownItem}
		}
	}
	met, total, critical := 0, 0, true
	for _, it := range c.Items {
		ok, answered := answers[it.ID]
		if !answered {
			return Result{}, &ItemError{Item: it.ID, Err: ErrMissingItem}
		}
		total += it.Weight
		if ok {
			met += it.Weight
		} else if it.Critical {
			critical = false
		}
	}
	tenths := met * MaxTenths / total // total > 0: Validate
	return Result{Tenths: tenths, Level: LevelOf(tenths, critical)}, nil
}

// FieldError names what is wrong with a checklist file.
type FieldError struct {
	File, Field, Detail string
}

func (e *FieldError) Error() string { return e.File + ": " + e.Field + ": " + e.Detail }

// Validate checks one checklist: a name and version, known venue kinds,
// 1 to MaxItems items with unique ids, both texts, weights in
// [1, MaxWeight].
func (c *Checklist) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{File: fmt.Sprintf("%s@%d", c.Name, c.Version), Field: field, Detail: fmt.Sprintf(format, args...)}
	}
	if !idPattern.MatchString(c.Name) || len(c.Name) > MaxIDBytes {
		return bad("name", "%q is not a lower-case identifier of at most %d bytes", c.Name, MaxIDBytes)
	}
	if c.Version < 1 {
		return bad("version", "must be 1 or more")
	}
	if len(c.Kinds) == 0 {
		return bad("kinds", "at least one venue kind")
	}
	for _, k := range c.Kinds {
		if !k.Valid() {
			return bad("kinds", "%q is not a venue kind", k)
		}
	}
	if len(c.Items) == 0 || len(c.Items) > MaxItems {
		return bad("items", "%d items, want 1 to %d", len(c.Items), MaxItems)
	}
	seen := map[string]bool{}
	for i, it := range c.Items {
		f := fmt.Sprintf("items[%d]", i)
		if !idPattern.MatchString(it.ID) || len(it.ID) > MaxIDBytes {
			return bad(f+".id", "%q is not a lower-case identifier of at most %d bytes", it.ID, MaxIDBytes)
		}
		if seen[it.ID] {
			return bad(f+".id", "%q twice", it.ID)
		}
		seen[it.ID] = true
		for lang, t := range map[string]string{"vi": it.Text.VI, "en": it.Text.EN} {
			if strings.TrimSpace(t) == "" || !utf8.ValidString(t) || utf8.RuneCountInString(t) > MaxTextRunes {
				return bad(f+".text."+lang, "required, valid UTF-8, at most %d characters", MaxTextRunes)
			}
		}
		if it.Weight < 1 || it.Weight > MaxWeight {
			return bad(f+".weight", "%d, want 1 to %d", it.Weight, MaxWeight)
		}
	}
	return nil
}

// Catalog is every checklist version, and which checklist each venue kind
// takes. It is immutable once loaded and safe for concurrent use.
type Catalog struct {
	byName map[string][]*Checklist // versions 1…n in order
	byKind map[venue.Kind]string   // kind → checklist name
}

// Errors of a catalog.
var (
	ErrNoChecklist    = errors.New("no checklist for this venue kind")
	ErrUnknownVersion = errors.New("unknown checklist version")
)

// Load builds a catalog from checklists, checking each (Validate) and the
// whole: versions of a name numbered 1, 2, … without gaps; every venue kind
// taken by exactly one checklist name (a kind may not move between names).
func Load(cs []*Checklist) (*Catalog, error) {
	cat := &Catalog{byName: map[string][]*Checklist{}, byKind: map[venue.Kind]string{}}
	for _, c := range cs {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		cat.byName[c.Name] = append(cat.byName[c.Name], c)
	}
	for name, vs := range cat.byName {
		slices.SortFunc(vs, func(a, b *Checklist) int { return cmp.Compare(a.Version, b.Version) })
		for i, c := range vs {
			if c.Version != uint32(i+1) { //nolint:gosec // i < len(cs)
				return nil, &FieldError{File: name, Field: "version", Detail: fmt.Sprintf("versions must run 1, 2, … without gaps or repeats; found %d at position %d", c.Version, i+1)}
			}
			for _, k := range c.Kinds {
				if other, ok := cat.byKind[k]; ok && other != name {
					return nil, &FieldError{File: fmt.Sprintf("%s@%d", name, c.Version), Field: "kinds", Detail: fmt.Sprintf("%q is already %s's", k, other)}
				}
				cat.byKind[k] = name
			}
		}
	}
	for _, k := range venue.Kinds() {
		if _, ok := cat.byKind[k]; !ok {
			return nil, &FieldError{File: "catalog", Field: "kinds", Detail: fmt.Sprintf("no checklist for venue kind %q", k)}
		}
	}
	return cat, nil
}

// For returns the checklist a venue of kind k takes: its newest version when
// version is 0, else that version, which must list k.
func (cat *Catalog) For(k venue.Kind, version uint32) (*Checklist, error) {
	name, ok := cat.byKind[k]
	if !ok {
		return nil, fmt.Errorf("%q: %w", k, ErrNoChecklist)
	}
	vs := cat.byName[name]
	if version == 0 {
		return vs[len(vs)-1], nil
	}
	if int(version) > len(vs) || !slices.Contains(vs[version-1].Kinds, k) {
		return nil, fmt.Errorf("%s@%d for %s (versions 1 to %d): %w", name, version, k, len(vs), ErrUnknownVersion)
	}
	return vs[version-1], nil
}

//go:embed shipped/*.json
var shippedFS embed.FS

// Shipped loads the checklists shipped with truyvet (shipped/NAME@VERSION.json).
func Shipped() (*Catalog, error) { return LoadFS(shippedFS, "shipped") }

// LoadFS loads every NAME@VERSION.json file of dir in fsys. Each file must
// hold exactly the fields of a Checklist, its name and version agreeing
// with the file's.
func LoadFS(fsys fs.FS, dir string) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read checklists: %w", err)
	}
	var cs []*Checklist
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read checklist %s: %w", e.Name(), err)
		}
		c, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("checklist %s: %w", e.Name(), err)
		}
		if want := fmt.Sprintf("%s@%d.json", c.Name, c.Version); e.Name() != want {
			return nil, &FieldError{File: e.Name(), Field: "name", Detail: "the file of " + strings.TrimSuffix(want, ".json") + " must be named " + want}
		}
		cs = append(cs, c)
	}
	return Load(cs)
}

// Parse decodes one checklist, refusing unknown fields and trailing data.
func Parse(data []byte) (*Checklist, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var c Checklist
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode: data after the checklist")
	}
	return &c, c.Validate()
}
