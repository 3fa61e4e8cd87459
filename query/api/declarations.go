package api

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/declapi"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// WithDeclarations joins health declarations to exposure graphs and serves
// GET /v1/declarations and GET /v1/declarations/summary from s.
func WithDeclarations(s declapi.Store) Option { return func(a *API) { a.decls = s } }

// DeclarationLookback is how long before a lookup's window a declaration
// still describes a node: symptoms declared in the 14 days before count.
const DeclarationLookback = 14 * 24 * time.Hour

// DeclarationJSON sums up a person's declarations: symptomatic when one of
// them names a symptom, the symptoms of all, the earliest onset, and the
// kind of the latest.
type DeclarationJSON struct {
	Symptomatic bool     `json:"symptomatic"`
	Symptoms    []string `json:"symptoms"`
	Onset       *string  `json:"onset"`
	Kind        string   `json:"kind"`
}

// summarise folds ds (ordered by subject, then declared_at) into one
// DeclarationJSON per subject.
func summarise(ds []event.Declaration) map[uint32]*DeclarationJSON {
	out := map[uint32]*DeclarationJSON{}
	var sym event.Symptoms
	var onset int64
	for i := range ds {
		d := &ds[i]
		if i == 0 || ds[i-1].SubjectID != d.SubjectID {
			sym, onset = 0, 0
		}
		sym |= d.Symptoms
		if d.Onset != 0 && (onset == 0 || d.Onset < onset) {
			onset = d.Onset
		}
		j := &DeclarationJSON{Symptomatic: sym != 0, Symptoms: sym.Names(), Kind: d.Kind.String()}
		if onset != 0 {
			od := event.Declaration{Onset: onset}
			s := od.OnsetDate()
			j.Onset = &s
		}
		out[d.SubjectID] = j // the latest declaration's kind wins
	}
	return out
}

// nodeDeclarations reads the declarations of res's people over
// [from - DeclarationLookback, to].
func (a *API) nodeDeclarations(ctx context.Context, res *graph.Result) (map[uint32]*DeclarationJSON, error) {
	if a.decls == nil {
		return nil, nil
	}
	ids := make([]uint32, 0, len(res.Nodes))
	for _, n := range res.Nodes {
		ids = append(ids, n.UserID)
	}
	w := res.Query.Window
	ds, err := a.decls.Declarations(ctx, ids, w.From-int64(DeclarationLookback/time.Second), w.To)
	if err != nil {
		return nil, err
	}
	return summarise(ds), nil
}

// priorityOrder puts the case first, then symptomatic people, keeping the
// graph's order otherwise (order=priority).
func priorityOrder(res *graph.Result, decls map[uint32]*DeclarationJSON) {
	rank := func(n graph.Node) int {
		switch {
		case n.Tier == 0:
			return 0
		case decls[n.UserID] != nil && decls[n.UserID].Symptomatic:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(res.Nodes, func(x, y graph.Node) int { return rank(x) - rank(y) })
}

func parseOrder(r *http.Request) (bool, error) {
	switch o := r.URL.Query().Get("order"); o {
	case "":
		return false, nil
	case "priority":
		return true, nil
	default:
		return false, badParam("order", "must be priority, or absent for the graph's order")
	}
}

// DeclarationsJSON is the answer of GET /v1/declarations.
type DeclarationsJSON struct {
	SubjectID    uint32            `json:"subject_id"`
	From         Time              `json:"from"`
	To           Time              `json:"to"`
	Declaration  *DeclarationJSON  `json:"declaration"`
	Declarations []json.RawMessage `json:"declarations"`
}

func (a *API) listDeclarations(w http.ResponseWriter, r *http.Request) {
	t0 := a.now()
	code := http.StatusOK
	defer func() { a.m.requests.WithLabelValues("declarations", strconv.Itoa(code)).Inc() }()
	entry := a.entry(r, audit.ActionDeclarations, t0)
	v := r.URL.Query()
	var err error
	var subject uint64
	var from, to time.Time
	if subject, err = strconv.ParseUint(v.Get("subject_id"), 10, 32); err != nil || subject == 0 {
		err = badParam("subject_id", "required: an integer between 1 and %d", uint32(math.MaxUint32))
	} else if p := v.Get("province"); p != "" && !a.knownProvince(p) {
		err = badParam("province", "not a province code of the %s list", a.pl.Version)
	} else if n := len([]rune(strings.TrimSpace(v.Get("purpose")))); n < MinPurpose || n > MaxPurpose {
		err = badParam("purpose", "required: why you look, %d to %d characters", MinPurpose, MaxPurpose)
	} else {
		from, to, err = a.window(r, t0, 28*24*time.Hour)
	}
	entry.Case = uint32(subject)
	// refuse answers err, audited: a refused or failed lookup is audited too.
	refuse := func(ctx context.Context, err error) {
		code = statusOf(err)
		entry.Status, entry.Reason = code, err.Error()
		_ = a.record(ctx, entry)
		writeError(w, err)
	}
	if err != nil {
		refuse(r.Context(), err)
		return
	}
	entry.From, entry.To, entry.Format = from.In(Local), to.In(Local), "json"
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	ds, err := a.decls.Declarations(ctx, []uint32{uint32(subject)}, from.Unix(), to.Unix())
	if err != nil {
		refuse(r.Context(), err)
		return
	}
	if p := v.Get("province"); p != "" {
		// A provincial account asks with its province: the declarations
		// filed there (the access guard checked the account may).
		ds = slices.DeleteFunc(ds, func(d event.Declaration) bool { return d.Province != p })
	}
	entry.Status, entry.Rows = http.StatusOK, len(ds)
	if err := a.record(r.Context(), entry); err != nil {
		code = writeError(w, err)
		return
	}
	out := DeclarationsJSON{SubjectID: uint32(subject), From: Time(from.Unix()), To: Time(to.Unix()), Declaration: summarise(ds)[uint32(subject)],
		Declarations: make([]json.RawMessage, len(ds))}
	for i := range ds {
		out.Declarations[i] = event.AppendDeclarationJSON(nil, &ds[i])
	}
	jsonhttp.Write(w, http.StatusOK, out)
}

// window reads from and to (RFC 3339), to defaulting to now and from to
// lookback before it.
func (a *API) window(r *http.Request, now time.Time, lookback time.Duration) (time.Time, time.Time, error) {
	v := r.URL.Query()
	to, from := now, time.Time{}
	var err error
	if s := v.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return from, to, badParam("to", "not an RFC 3339 time: %q", s)
		}
	}
	from = to.Add(-lookback)
	if s := v.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return from, to, badParam("from", "not an RFC 3339 time: %q", s)
		}
	}
	switch {
	case !from.Before(to):
		return from, to, badParam("from", "must be before to")
	case to.Sub(from) > a.cfg.MaxWindow:
		return from, to, badParam("from", "window longer than %s", a.cfg.MaxWindow)
	}
	return from, to, nil
}

// DaySummaryJSON is one local day of GET /v1/declarations/summary.
type DaySummaryJSON struct {
	Date        string           `json:"date"`
	Total       int64            `json:"total"`
	Symptomatic int64            `json:"symptomatic"`
	Kinds       map[string]int64 `json:"kinds"`
	// KindsSymptomatic counts the symptomatic declarations of each kind.
	KindsSymptomatic map[string]int64 `json:"kinds_symptomatic"`
}

// SummaryJSON is the answer of GET /v1/declarations/summary.
type SummaryJSON struct {
	Province *string          `json:"province"` // null: the whole country
	From     string           `json:"from"`
	To       string           `json:"to"`
	Days     []DaySummaryJSON `json:"days"`
}

// MaxSummaryDays bounds the days of one summary.
const MaxSummaryDays = 62

// localDay reads a local date YYYY-MM-DD, or an RFC 3339 time's local day.
func localDay(name, s string) (bucket.Day, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, Local); err == nil {
		return bucket.DayOf(t.Unix()), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return bucket.DayOf(t.Unix()), nil
	}
	return 0, badParam(name, "a local date YYYY-MM-DD or an RFC 3339 time: %q", s)
}

func (a *API) declarationSummary(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := http.StatusOK
	defer func() {
		a.m.requests.WithLabelValues("declarations_summary", strconv.Itoa(code)).Inc()
		a.m.summary.Observe(time.Since(start).Seconds())
	}()
	v := r.URL.Query()
	out := SummaryJSON{}
	var provinces []string
	if p := v.Get("province"); p != "" {
		if !a.knownProvince(p) {
			code = writeError(w, badParam("province", "not a province code of the %s list", a.pl.Version))
			return
		}
		provinces, out.Province = []string{p}, &p
	}
	to := bucket.DayOf(a.now().Unix())
	var err error
	if s := v.Get("to"); s != "" {
		if to, err = localDay("to", s); err != nil {
			code = writeError(w, err)
			return
		}
	}
	from := to - 13
	if s := v.Get("from"); s != "" {
		if from, err = localDay("from", s); err != nil {
			code = writeError(w, err)
			return
		}
	}
	switch {
	case from > to:
		code = writeError(w, badParam("from", "after to"))
		return
	case to-from >= MaxSummaryDays:
		code = writeError(w, badParam("from", "more than %d days", MaxSummaryDays))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	cs, err := a.summaries.counts(ctx, a.decls, a.cfg.SummaryCache, provinces, from, to)
	if err != nil {
		code = writeError(w, err)
		return
	}
	out.From, out.To = dayString(from), dayString(to)
	out.Days = make([]DaySummaryJSON, 0, to-from+1)
	for d := from; d <= to; d++ {
		ds := DaySummaryJSON{Date: dayString(d), Kinds: map[string]int64{}, KindsSymptomatic: map[string]int64{}}
		for _, k := range event.DeclKinds {
			ds.Kinds[k.String()], ds.KindsSymptomatic[k.String()] = 0, 0
		}
		out.Days = append(out.Days, ds)
	}
	for _, c := range cs {
		if c.Day < from || c.Day > to {
			continue
		}
		ds := &out.Days[c.Day-from]
		ds.Total += c.N
		ds.Kinds[c.Kind.String()] += c.N
		if c.Symptomatic {
			ds.Symptomatic += c.N
			ds.KindsSymptomatic[c.Kind.String()] += c.N
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	jsonhttp.Write(w, http.StatusOK, out)
}

func (a *API) knownProvince(p string) bool {
	_, err := a.pl.Lookup(p)
	return err == nil
}

func dayString(d bucket.Day) string { return time.Unix(d.Start(), 0).In(Local).Format(time.DateOnly) }

// summaryCache keeps recent declaration counts for Config.SummaryCache, so
// that many dashboards polling one summary cost one read of the store.
type summaryCache struct {
	mu      sync.Mutex
	entries map[summaryKey]summaryEntry
}

type summaryKey struct {
	province string
	from, to bucket.Day
}

type summaryEntry struct {
	at     time.Time
	counts []declapi.Count
}

// maxSummaryEntries bounds the cache: past it, it starts again empty.
const maxSummaryEntries = 256

func (c *summaryCache) counts(ctx context.Context, s declapi.Store, ttl time.Duration, provinces []string, from, to bucket.Day) ([]declapi.Count, error) {
	if ttl <= 0 {
		return s.DeclarationCounts(ctx, provinces, from, to)
	}
	k := summaryKey{province: strings.Join(provinces, ","), from: from, to: to}
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && time.Since(e.at) < ttl {
		return e.counts, nil
	}
	start := time.Now()
	cs, err := s.DeclarationCounts(ctx, provinces, from, to)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxSummaryEntries {
		c.entries = map[summaryKey]summaryEntry{}
	}
	c.entries[k] = summaryEntry{at: start, counts: cs}
	c.mu.Unlock()
	return cs, nil
}
