package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/definition"
	"github.com/truyvet/truyvet/schemas/event"
)

// definition resolves the definition named by parameter param (empty:
// default@1, today's rule, so a lookup without it answers as it always did).
func (a *API) definition(ctx context.Context, param, ref string) (definition.Definition, error) {
	name, version := definition.DefaultName, definition.DefaultVersion
	if ref != "" {
		var err error
		if name, version, err = definition.ParseRef(ref); err != nil {
			if ve := new(event.ValidationError); errors.As(err, &ve) {
				ve.Field = param
			}
			return definition.Definition{}, err
		}
	}
	d, err := a.defs.Resolve(ctx, name, version)
	if err != nil {
		return definition.Definition{}, badParamErr(param, err)
	}
	return d, nil
}

func badParamErr(name string, err error) error {
	return fmt.Errorf("%w %s: %w", ErrBadParam, name, err)
}

// DefinitionsJSON is the answer of GET /v1/definitions.
type DefinitionsJSON struct {
	Default     string                  `json:"default"`
	Definitions []definition.Definition `json:"definitions"`
}

func (a *API) listDefinitions(w http.ResponseWriter, r *http.Request) {
	code := http.StatusOK
	defer func() { a.m.requests.WithLabelValues("definitions", strconv.Itoa(code)).Inc() }()
	ds, err := a.defs.List(r.Context())
	if err != nil {
		code = writeError(w, err)
		return
	}
	jsonhttp.Write(w, code, DefinitionsJSON{Default: definition.DefaultName + "@" + strconv.Itoa(definition.DefaultVersion), Definitions: ds})
}

func (a *API) addDefinition(w http.ResponseWriter, r *http.Request) {
	code := http.StatusCreated
	defer func() { a.m.requests.WithLabelValues("definitions", strconv.Itoa(code)).Inc() }()
	body, err := io.ReadAll(io.LimitReader(r.Body, definition.MaxBodyBytes+1))
	if err != nil {
		code = writeError(w, badParamErr("body", err))
		return
	}
	d, err := definition.Parse(body)
	if err != nil {
		code = writeError(w, err)
		return
	}
	stored, err := a.defs.Add(r.Context(), d)
	if err != nil {
		code = writeError(w, err)
		return
	}
	a.log.Info("contact definition added", "definition", stored.Ref(), "requester", r.Header.Get("X-Requested-By"))
	jsonhttp.Write(w, code, stored)
}

// DiffJSON is the answer of GET /v1/cases/{id}/exposures/diff: the people
// found under b and not a (Added, as b lists them), under a and not b
// (Removed, as a lists them), and under both at another tier (Changed).
type DiffJSON struct {
	Case    uint32       `json:"case"`
	From    Time         `json:"from"`
	To      Time         `json:"to"`
	Depth   int          `json:"depth"`
	A       string       `json:"a"`
	B       string       `json:"b"`
	Added   []NodeJSON   `json:"added"`
	Removed []NodeJSON   `json:"removed"`
	Changed []TierChange `json:"changed"`
	Counts  DiffCounts   `json:"counts"`
}

// TierChange is a person found under both definitions at different tiers.
type TierChange struct {
	UserID uint32 `json:"user_id"`
	ATier  Tier   `json:"a_tier"`
	BTier  Tier   `json:"b_tier"`
}

// DiffCounts are the people each definition found, by tier.
type DiffCounts struct {
	A map[string]int `json:"a"`
	B map[string]int `json:"b"`
}

func (a *API) diff(w http.ResponseWriter, r *http.Request) {
	t0 := a.now()
	code := http.StatusOK
	defer func() { a.m.requests.WithLabelValues("diff", strconv.Itoa(code)).Inc() }()
	q, minutes, err := a.parseQuery(r)
	if err != nil {
		code = writeError(w, err)
		return
	}
	v := r.URL.Query()
	var defs [2]definition.Definition
	for i, p := range []string{"a", "b"} {
		if v.Get(p) == "" {
			code = writeError(w, badParam(p, "missing: name the definition (name or name@version)"))
			return
		}
		if defs[i], err = a.definition(r.Context(), p, v.Get(p)); err != nil {
			code = writeError(w, err)
			return
		}
	}
	q.ContactsOnly = true // people, not episodes
	var res [2]*graph.Result
	for i, d := range defs {
		qi := q
		qi.Rule = d.Rule()
		if res[i], err = a.lookup(r, qi, minutes, d.Ref(), "diff", t0); err != nil {
			code = writeError(w, err)
			return
		}
	}
	jsonhttp.Write(w, code, newDiff(res[0], res[1], defs[0].Ref(), defs[1].Ref()))
}

// newDiff compares two answers about one case.
func newDiff(ra, rb *graph.Result, a, b string) *DiffJSON {
	q := ra.Query
	d := &DiffJSON{Case: q.Case, From: Time(q.Window.From), To: Time(q.Window.To), Depth: q.Depth, A: a, B: b,
		Added: []NodeJSON{}, Removed: []NodeJSON{}, Changed: []TierChange{},
		Counts: DiffCounts{A: tierCounts(ra), B: tierCounts(rb)}}
	tiers := func(res *graph.Result) map[uint32]int {
		m := make(map[uint32]int, len(res.Nodes))
		for _, n := range res.Nodes[1:] {
			m[n.UserID] = n.Tier
		}
		return m
	}
	ta, tb := tiers(ra), tiers(rb)
	ga, gb := NewGraphJSON(ra, 0, a, 0), NewGraphJSON(rb, 0, b, 0)
	for i, n := range gb.Nodes[1:] {
		if t, ok := ta[n.UserID]; !ok {
			n.Venues = rb.Nodes[i+1].Venues
			d.Added = append(d.Added, n)
		} else if t != n.Tier {
			d.Changed = append(d.Changed, TierChange{UserID: n.UserID, ATier: Tier(t), BTier: Tier(n.Tier)})
		}
	}
	for i, n := range ga.Nodes[1:] {
		if _, ok := tb[n.UserID]; !ok {
			n.Venues = ra.Nodes[i+1].Venues
			d.Removed = append(d.Removed, n)
		}
	}
	slices.SortFunc(d.Changed, func(x, y TierChange) int { return cmp.Compare(x.UserID, y.UserID) })
	return d
}

func tierCounts(res *graph.Result) map[string]int {
	m := map[string]int{"1": 0, "2": 0, "casual": 0}
	for _, n := range res.Nodes[1:] {
		m[Tier(n.Tier).String()]++
	}
	return m
}
