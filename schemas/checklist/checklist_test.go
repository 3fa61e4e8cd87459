package checklist

import (
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/venue"
)

func TestShippedCoversEveryKind(t *testing.T) {
	cat, err := Shipped()
	require.NoError(t, err)
	for _, k := range venue.Kinds() {
		c, err := cat.For(k, 0)
		require.NoError(t, err, k)
		require.Contains(t, c.Kinds, k)
		require.Positive(t, c.TotalWeight())
		// Every item met is green at 100.
		all := map[string]bool{}
		for _, it := range c.Items {
			all[it.ID] = true
		}
		r, err := c.Score(all)
		require.NoError(t, err)
		require.Equal(t, Result{Tenths: 1000, Level: LevelGreen}, r)
		require.InDelta(t, 100.0, r.Score(), 0)
	}
	_, err = cat.For(venue.KindSchool, 2)
	require.ErrorIs(t, err, ErrUnknownVersion)
	_, err = cat.For(venue.KindSchool, 1)
	require.NoError(t, err)
	// A version of another kind's checklist is not the school's.
	_, err = cat.For(venue.Kind("nope"), 1)
	require.ErrorIs(t, err, ErrNoChecklist)
}

// The boundaries of the levels, exactly: with a total weight of 1000 a
// tenth of a percent is one unit of weight.
func TestScoreBoundaries(t *testing.T) {
	for _, tc := range []struct {
		met   int // of 1000
		score float64
		level Level
	}{
		{1000, 100, LevelGreen},
		{900, 90, LevelGreen},
		{899, 89.9, LevelYellow},
		{700, 70, LevelYellow},
		{699, 69.9, LevelOrange},
		{500, 50, LevelOrange},
		{499, 49.9, LevelRed},
		{0, 0, LevelRed},
	} {
		t.Run(fmt.Sprint(tc.met), func(t *testing.T) {
			c, ans := splitChecklist(tc.met, 1000, false)
			r, err := c.Score(ans)
			require.NoError(t, err)
			require.InDelta(t, tc.score, r.Score(), 1e-9)
			require.Equal(t, tc.level, r.Level)
		})
	}
}

// A share just under a boundary is rounded down, never up to it: 8999 of
// 10000 is 89.99 %, shown as 89.9 and yellow.
func TestScoreRoundsDown(t *testing.T) {
	c, ans := splitChecklist(8999, 10000, false)
	r, err := c.Score(ans)
	require.NoError(t, err)
	require.Equal(t, Result{Tenths: 899, Level: LevelYellow}, r)
	c, ans = splitChecklist(2, 3, false) // 66.67 %
	r, err = c.Score(ans)
	require.NoError(t, err)
	require.Equal(t, Result{Tenths: 666, Level: LevelOrange}, r)
}

func TestCriticalItemUnmetIsRed(t *testing.T) {
	c, ans := splitChecklist(999, 1000, true) // the unmet item (weight 1) is critical
	r, err := c.Score(ans)
	require.NoError(t, err)
	require.Equal(t, Result{Tenths: 999, Level: LevelRed}, r)
	// The same share with the unmet item not critical is green.
	c, ans = splitChecklist(999, 1000, false)
	r, err = c.Score(ans)
	require.NoError(t, err)
	require.Equal(t, LevelGreen, r.Level)
}

func TestScoreRefusesIncompleteOrUnknownAnswers(t *testing.T) {
	c, ans := splitChecklist(1, 2, false)
	ans["nope"] = true
	_, err := c.Score(ans)
	var ie *ItemError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "nope", ie.Item)
	require.ErrorIs(t, err, ErrUnknownItem)
	delete(ans, "nope")
	delete(ans, "unmet")
	_, err = c.Score(ans)
	require.ErrorIs(t, err, ErrMissingItem)
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "unmet", ie.Item)
}

// splitChecklist is a checklist of weight total whose answers meet weight met:
// items "met…" of weights summing to met, all met, and items "unmet…"
// summing to the rest, unmet (the first one critical when critical is set).
func splitChecklist(met, total int, critical bool) (*Checklist, map[string]bool) {
	c := &Checklist{Name: "t", Version: 1, Kinds: []venue.Kind{venue.KindOther}}
	ans := map[string]bool{}
	add := func(prefix string, w int, ok, crit bool) {
		for i := 0; w > 0; i++ {
			n := min(w, MaxWeight)
			id := prefix
			if i > 0 {
				id = fmt.Sprintf("%s%d", prefix, i)
			}
			c.Items = append(c.Items, Item{ID: id, Text: Text{VI: "x", EN: "x"}, Weight: n, Critical: crit && i == 0})
			ans[id] = ok
			w -= n
		}
	}
	add("met", met, true, false)
	add("unmet", total-met, false, critical)
	return c, ans
}

func TestValidateNamesTheField(t *testing.T) {
	good := func() *Checklist {
		return &Checklist{Name: "t", Version: 1, Kinds: []venue.Kind{venue.KindOther},
			Items: []Item{{ID: "a", Text: Text{VI: "x", EN: "y"}, Weight: 1}}}
	}
	require.NoError(t, good().Validate())
	for _, tc := range []struct {
		field string
		edit  func(*Checklist)
	}{
		{"name", func(c *Checklist) { c.Name = "Bad Name" }},
		{"version", func(c *Checklist) { c.Version = 0 }},
		{"kinds", func(c *Checklist) { c.Kinds = nil }},
		{"kinds", func(c *Checklist) { c.Kinds = []venue.Kind{"spaceport"} }},
		{"items", func(c *Checklist) { c.Items = nil }},
		{"items[1].id", func(c *Checklist) { c.Items = append(c.Items, c.Items[0]) }},
		{"items[0].id", func(c *Checklist) { c.Items[0].ID = "A-1" }},
		{"items[0].text.vi", func(c *Checklist) { c.Items[0].Text.VI = " " }},
		{"items[0].text.en", func(c *Checklist) { c.Items[0].Text.EN = "" }},
		{"items[0].weight", func(c *Checklist) { c.Items[0].Weight = 0 }},
		{"items[0].weight", func(c *Checklist) { c.Items[0].Weight = MaxWeight + 1 }},
	} {
		c := good()
		tc.edit(c)
		var fe *FieldError
		require.ErrorAs(t, c.Validate(), &fe, tc.field)
		require.Equal(t, tc.field, fe.Field)
	}
}

func TestLoadChecksTheCatalog(t *testing.T) {
	one := func(name string, version uint32, kinds ...venue.Kind) string {
		c := fmt.Sprintf(`{"name":%q,"version":%d,"kinds":[`, name, version)
		for i, k := range kinds {
			if i > 0 {
				c += ","
			}
			c += fmt.Sprintf("%q", k)
		}
		return c + `],"items":[{"id":"a","text":{"vi":"x","en":"y"},"weight":1,"critical":false}]}`
	}
	rest := venue.Kinds()[1:]
	for name, tc := range map[string]struct {
		files map[string]string
		ok    bool
	}{
		"complete":      {files: map[string]string{"a@1.json": one("a", 1, venue.KindSchool), "b@1.json": one("b", 1, rest...), "a@2.json": one("a", 2, venue.KindSchool)}, ok: true},
		"gap":           {files: map[string]string{"a@1.json": one("a", 1, venue.KindSchool), "b@1.json": one("b", 1, rest...), "a@3.json": one("a", 3, venue.KindSchool)}},
		"uncovered":     {files: map[string]string{"b@1.json": one("b", 1, rest...)}},
		"two names":     {files: map[string]string{"a@1.json": one("a", 1, venue.KindSchool), "b@1.json": one("b", 1, venue.Kinds()...)}},
		"misnamed":      {files: map[string]string{"a@1.json": one("a", 2, venue.KindSchool), "b@1.json": one("b", 1, rest...)}},
		"unknown field": {files: map[string]string{"a@1.json": `{"name":"a","version":1,"colour":"red"}`}},
	} {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, data := range tc.files {
				fsys["d/"+n] = &fstest.MapFile{Data: []byte(data)}
			}
			_, err := LoadFS(fsys, "d")
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}
