package ui_test

// The page in a real browser: headless Chromium (Debian's package, driven
// by chromedp) against the query API over a small synthetic city. Each step
// writes a screenshot under screenshotDir (gitignored), for a person to look
// at: CI keeps them as artifacts.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/internal/route"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/api/ui"
	"github.com/truyvet/truyvet/query/audit"
	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// screenshotDir is where the browser tests leave their screenshots,
// relative to this package.
const screenshotDir = "screenshots"

// bigCase and groupedCase are answered by generated graphs: bigCase has
// hundreds of F1 and thousands of F2 (drawn by venue), groupedCase tens of
// F1 and over a thousand F2 (F2 drawn as one group per F1).
const (
	bigCase     = 3_999_999
	groupedCase = 3_999_998
)

// findChromium returns the browser to drive: $TRUYVET_CHROMIUM, or the first
// of the usual names on PATH. Without one the test fails under CI=true
// (scripts/test.sh installs Debian's chromium) and is skipped elsewhere.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TRUYVET_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found: CI must run the browser tests (apt-get install chromium, or set TRUYVET_CHROMIUM)")
	}
	t.Skip("no Chromium found (apt-get install chromium, or set TRUYVET_CHROMIUM); browser tests skipped")
	return ""
}

// city serves the API and the page over a demo-sized synthetic city, and
// returns the server and a case with F1 and F2 in the city's span.
func city(t *testing.T) (srv *httptest.Server, caseID uint32, from, to time.Time) {
	t.Helper()
	ctx := t.Context()
	layout := bucket.DefaultLayout()
	reg := prometheus.NewRegistry()
	store, err := pebblestore.Open(ctx, pebblestore.Options{Dir: t.TempDir(), Layout: layout, NoSync: true, Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	proc, err := processor.New(layout, store, processor.NewMetrics(reg))
	require.NoError(t, err)
	cfg := synth.Demo()
	cfg.People, cfg.Venues, cfg.Days = 1500, 50, 1
	cfg.End = time.Now().Add(-time.Hour)
	c, err := synth.New(cfg)
	require.NoError(t, err)
	for b := range c.Batches() {
		require.NoError(t, proc.Process(ctx, &b))
	}
	f, tt := c.Span()
	w := graph.Window{From: f.Unix(), To: tt.Unix()}
	engine := graph.NewEngine(store)
	best, bestF2 := uint32(0), 0
	for id := uint32(1); id <= 250; id++ {
		res, err := engine.Exposures(ctx, graph.Query{Case: id, Window: w, Depth: 2, MinSeconds: 15 * 60})
		require.NoError(t, err)
		f1, f2 := 0, 0
		for _, n := range res.Nodes {
			switch n.Tier {
			case 1:
				f1++
			case 2:
				f2++
			}
		}
		// A case with stays and encounters of their own, so the timeline
		// has both kinds of row.
		if len(res.Timeline.Stays) > 0 && len(res.Timeline.Contacts) > 0 && f1 >= 3 && f1 <= 30 && f2 > bestF2 && f2 <= 250 {
			best, bestF2 = id, f2
		}
	}
	require.NotZero(t, best, "no case with F1 and F2 in the city")

	// Two of the case's F1 declared symptoms: the page marks them.
	res, err := engine.Exposures(ctx, graph.Query{Case: best, Window: w, Depth: 1, MinSeconds: 15 * 60})
	require.NoError(t, err)
	fever, _ := event.ParseSymptom("fever")
	var decls []event.Declaration
	for _, n := range res.Nodes[1:3] {
		decls = append(decls, event.Declaration{DeclarationID: fmt.Sprint("d", n.UserID), UserID: n.UserID, SubjectID: n.UserID,
			Kind: event.DeclVoluntary, DeclaredAt: tt.Unix() - 60, Province: "01", Symptoms: fever, Onset: bucket.DayOf(tt.Unix()).Start()})
	}
	require.NoError(t, proc.Process(ctx, &event.Batch{Declarations: decls}))

	// The widest row the recent-lookups panel shows: yesterday's (so with
	// its date), a long team name, the largest id and counts.
	_, err = store.Append(ctx, audit.Entry{Time: time.Now().Add(-26 * time.Hour), Action: "exposures", Requester: "Doi truy vet Ha Noi - To 3",
		Account: audit.Actor{ID: "1", Name: "Doi truy vet Ha Noi - To 3", Roles: []string{"epidemiologist"}},
		Case:    4_294_967_295, From: f, To: tt, Depth: 2, MinMinutes: 15, Format: "json", F1: 12_345, F2: 123_456, Status: 200})
	require.NoError(t, err)
	mux := http.NewServeMux()
	a := api.New(api.DefaultConfig(), engine, store, nil, definitions.New(store), api.NewMetrics(reg), nil, time.Now, api.WithDeclarations(store))
	mux.HandleFunc(fmt.Sprintf("GET /v1/cases/%d/exposures", bigCase), bigGraph(bigCase, 250, 12))
	mux.HandleFunc(fmt.Sprintf("GET /v1/cases/%d/exposures", groupedCase), bigGraph(groupedCase, 60, 20))
	a.Register(mux)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"mode":"all-in-one","accepted":0,"processed":12345,"rejected":0,"unavailable":0,`+
			`"counts_since":%q,"dead_lettered":0,"lag":{"records":0},"stored":{"visits":9000,"encounters":3000,"days":["%s"]},`+
			`"layout":{"bucket_seconds":900,"dwell_seconds":3600},"uptime_seconds":42}`,
			time.Now().In(api.Local).Format(time.RFC3339), f.Format("2006-01-02"))
	})
	mux.Handle("/", ui.Handler())
	srv = httptest.NewServer(route.Strict(mux))
	t.Cleanup(srv.Close)
	return srv, best, f, tt
}

// bigGraph answers a generated graph of the case: nF1 F1, the case met
// each sixth by Bluetooth and the others at one of 10 venues; each F1
// exposes perF1 F2 of their own, every second one also exposed by the next F1.
func bigGraph(caseID uint32, nF1, perF1 uint32) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		t0 := time.Now().Add(-30 * time.Hour).Unix()
		g := api.GraphJSON{Case: caseID, From: api.Time(t0), To: api.Time(t0 + 86400), Depth: 2, MinMinutes: 15}
		at := func(s int64) *api.Time { v := api.Time(t0 + s); return &v }
		g.Nodes = append(g.Nodes, api.NodeJSON{UserID: caseID, Channels: []string{}, ExposedBy: []uint32{}})
		for i := range nF1 {
			f1 := 100_000 + i
			e := api.EdgeJSON{From: caseID, To: f1, Channel: "proximity", Start: api.Time(t0 + 3600), End: api.Time(t0 + 7200), Seconds: 3600}
			if i%6 != 0 {
				venue := 1 + i%12
				e.Channel, e.VenueID = "venue", &venue
			}
			g.Nodes = append(g.Nodes, api.NodeJSON{UserID: f1, Tier: 1, FirstExposure: at(3600), LastExposure: at(7200),
				ExposureSeconds: 3600, Channels: []string{e.Channel}, ExposedBy: []uint32{caseID}})
			g.Edges = append(g.Edges, e)
			for j := range perF1 {
				f2 := 200_000 + i*perF1 + j
				by := []uint32{f1}
				if j%2 == 1 && i+1 < nF1 {
					by = append(by, f1+1)
				}
				g.Nodes = append(g.Nodes, api.NodeJSON{UserID: f2, Tier: 2, FirstExposure: at(9000), LastExposure: at(10800),
					ExposureSeconds: 1800, Channels: []string{"proximity"}, ExposedBy: by})
				for _, p := range by {
					g.Edges = append(g.Edges, api.EdgeJSON{From: p, To: f2, Channel: "proximity", Start: api.Time(t0 + 9000), End: api.Time(t0 + 10800), Seconds: 1800})
				}
			}
		}
		g.Venues, g.Timeline = []api.SiteJSON{}, api.TimelineJSON{Stays: []api.StayJSON{}, Encounters: []api.EncounterJSON{}}
		g.Stats.CaseStays, g.Stats.StagesMS = 3, map[string]float64{}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(g)
	}
}

// TestPageInBrowser drives the page as a tracer would: trace a case, sort,
// filter, download the CSV, follow bad links to the error banner, and look
// at a large graph, in a browser whose locale and time zone are not
// Vietnam's, at 1400 px wide.
func TestPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	exe := findChromium(t)
	srv, caseID, from, to := city(t)
	shots, err := filepath.Abs(screenshotDir)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(shots, 0o755))
	downloads := t.TempDir()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.Flag("lang", "en-US"))
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	ctx, cancel := context.WithTimeout(bctx, 5*time.Minute)
	defer cancel()
	events := true
	_, err = chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"}) // the page must not use the browser's zone
	require.NoError(t, err)
	// A tracer's browser session: the token the page asked for once and the
	// purpose of the lookups, as the page keeps them.
	_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `sessionStorage.setItem('truyvet.token', 'tvk_browser_test'); if (!sessionStorage.getItem('truyvet.purpose')) sessionStorage.setItem('truyvet.purpose', 'browser test of the workbench');`})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en_US"}) // nor its date format
	require.NoError(t, err)
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &events})
	require.NoError(t, err)

	do := func(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...))
	}
	text := func(t *testing.T, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}
	value := func(t *testing.T, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		}
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	hash := fmt.Sprintf("#case=%d&from=%s&to=%s&depth=2&min_minutes=15", caseID,
		strings.ReplaceAll(from.Format(time.RFC3339), "+", "%2B"), strings.ReplaceAll(to.Format(time.RFC3339), "+", "%2B"))

	t.Run("trace a case", func(t *testing.T) {
		do(t, chromedp.Navigate(srv.URL+"/"+hash), visible(`#f2-table table`), visible(`#timeline-table table`), shot("01-trace"))
		require.Contains(t, text(t, `#summary-main`), fmt.Sprint(caseID))
		require.Positive(t, eval[int](ctx, t, `document.querySelectorAll('#f1-table tbody tr').length`))
		require.Positive(t, eval[int](ctx, t, `document.querySelectorAll('#f2-table tbody tr').length`))
		require.Contains(t, text(t, `#f1-table thead`), "Last exposure")
		require.False(t, eval[bool](ctx, t, `[...document.querySelectorAll('#f2-table tbody tr td:nth-child(7)')].some(td => /,\s*$/.test(td.textContent))`),
			"an F2 Exposed by cell ends with a comma")
		// Vietnam time, dd/mm/yyyy, in a New York en-US browser.
		require.Equal(t, from.In(api.Local).Format("02/01/2006 15:04"), value(t, `#f-from`))
		require.Contains(t, text(t, `#timeline-table tbody`), "venue ")
	})

	t.Run("sort", func(t *testing.T) {
		do(t, click(`#f1-table th[data-key="minutes"] button`), shot("02-sorted-by-minutes"))
		minutes := eval[[]string](ctx, t, `[...document.querySelectorAll('#f1-table tbody tr td:nth-child(5)')].map(td => td.textContent)`)
		require.NotEmpty(t, minutes)
		for i := 1; i < len(minutes); i++ {
			var a, b float64
			_, _ = fmt.Sscan(minutes[i-1], &a)
			_, _ = fmt.Sscan(minutes[i], &b)
			require.GreaterOrEqual(t, a, b, "minutes sort descending first: %v", minutes)
		}
	})

	t.Run("symptomatic first", func(t *testing.T) {
		require.Equal(t, 2, eval[int](ctx, t, `document.querySelectorAll('#f1-table tbody .sym').length`), "two F1 declared symptoms")
		require.Contains(t, text(t, `#f1-table thead`), "Symptoms")
		do(t, click(`#f1-table th[data-key="symptoms"] button`), shot("02b-symptomatic-first"))
		marked := eval[[]bool](ctx, t, `[...document.querySelectorAll('#f1-table tbody tr')].map(tr => !!tr.querySelector('.sym'))`)
		require.GreaterOrEqual(t, len(marked), 3)
		require.Equal(t, []bool{true, true, false}, marked[:3], "symptomatic contacts sort first")
		require.Contains(t, text(t, `#f1-table tbody .sym`), "fever")
	})

	t.Run("filter", func(t *testing.T) {
		first := text(t, `#f2-table tbody tr td:first-child`)
		do(t, chromedp.SendKeys(chromedp.CSS(`#f2-table input.filter`), "id:"+first), shot("03-filtered"))
		require.Equal(t, 1, eval[int](ctx, t, `document.querySelectorAll('#f2-table tbody tr').length`), "filter id:%s", first)
		require.Contains(t, text(t, `#f2-table .filter-count`), "1 of ")
	})

	t.Run("download CSV", func(t *testing.T) {
		dctx, stop := context.WithTimeout(bctx, 30*time.Second)
		defer stop()
		progress := chromedp.BrowserEvents(dctx, browser.DownloadProgress)
		do(t, click(`#csv-link`))
		guid := ""
		for ev, err := range progress {
			require.NoError(t, err, "the CSV download did not complete")
			if ev.State == browser.DownloadProgressStateCompleted {
				guid = ev.GUID
				break
			}
		}
		b, err := os.ReadFile(filepath.Join(downloads, guid))
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		require.Equal(t, strings.Join(api.CSVHeader, ","), lines[0])
		require.Greater(t, len(lines), 1)
	})

	t.Run("error banner", func(t *testing.T) {
		do(t, chromedp.Navigate(srv.URL+fmt.Sprintf("/#case=%d&depth=3", caseID)), visible(`#error`), shot("04-error-depth"))
		require.Contains(t, text(t, `#error`), "depth 3")
		require.Equal(t, "1", value(t, `#f-depth`), "the form shows a depth it can send; nothing was sent")
		do(t, chromedp.Navigate(srv.URL+fmt.Sprintf("/#case=%d&to=2099-01-01T00:00:00Z", caseID)), chromedp.Sleep(300*time.Millisecond),
			visible(`#error`), shot("05-error-future"))
		msg := text(t, `#error`)
		require.Contains(t, msg, "HTTP 400")
		require.Contains(t, msg, "to")
	})

	t.Run("no records", func(t *testing.T) {
		do(t, chromedp.Navigate(srv.URL+"/#case=3999000&depth=2"), visible(`#no-records`), shot("06-no-records"))
		require.Contains(t, text(t, `#no-records`), "No records of case 3999000")
		require.Contains(t, eval[string](ctx, t, `document.getElementById('graph').textContent`), "No records")
	})

	t.Run("dates typed as dd/mm/yyyy", func(t *testing.T) {
		f := from.In(api.Local)
		do(t, chromedp.Navigate(srv.URL+"/"), visible(`#f-case`),
			chromedp.SetValue(chromedp.CSS(`#f-case`), fmt.Sprint(caseID)),
			chromedp.SetValue(chromedp.CSS(`#f-from`), f.Format("02/01/2006 15:04")),
			chromedp.SetValue(chromedp.CSS(`#f-to`), to.In(api.Local).Format("02/01/2006 15:04")),
			click(`#f-submit`), visible(`#f1-table table`))
		require.Contains(t, eval[string](ctx, t, `decodeURIComponent(location.hash)`), "from="+f.Format("2006-01-02T15:04:00+07:00"))
	})

	t.Run("layout at 1400 px", func(t *testing.T) {
		do(t, visible(`#audit-body table`), shot("07-layout-1400"))
		require.False(t, eval[bool](ctx, t, `(() => { const b = document.getElementById('audit-body'); const c = document.getElementById('audit-card').getBoundingClientRect();
			const tb = b.querySelector('table').getBoundingClientRect(); return b.scrollWidth > b.clientWidth + 1 || tb.right > c.right + 0.5; })()`),
			"the recent-lookups table is wider than its panel")
		require.False(t, eval[bool](ctx, t, `[...document.querySelectorAll('#audit-body th, #audit-body td')].some((c, i) => !c.classList.contains('who') && c.textContent !== 'Who' && c.scrollWidth > c.clientWidth + 1)`),
			"a recent-lookups cell other than the team name is cut")
		require.False(t, eval[bool](ctx, t, `[...document.querySelectorAll('#status-body dt')].some(dt => dt.getClientRects().length > 1 || dt.getBoundingClientRect().height > 1.6 * (parseFloat(getComputedStyle(dt).lineHeight) || 16))`),
			"a pipeline status label wraps")
	})

	t.Run("large graph by venue", func(t *testing.T) {
		do(t, chromedp.Navigate(srv.URL+fmt.Sprintf("/#case=%d&depth=2", bigCase)), visible(`#graph-note`), shot("08-large-graph-by-venue"))
		require.Contains(t, text(t, `#graph-note`), "250 F1 and 3,000 F2 are drawn by where the case exposed them")
		// The case, 10 venues and Bluetooth, and one F2 circle beyond each.
		require.Equal(t, 11, eval[int](ctx, t, `document.querySelectorAll('#graph circle.hub').length`))
		require.Equal(t, 1+11+11, eval[int](ctx, t, `document.querySelectorAll('#graph circle').length`))
		do(t, click(`#graph circle.hub`), chromedp.Sleep(500*time.Millisecond), shot("09-large-graph-venue-clicked"))
		require.Contains(t, value(t, `#f1-table input.filter`), " F1)")
		rows := eval[int](ctx, t, `document.querySelectorAll('#f1-table tbody tr').length`)
		require.Positive(t, rows)
		require.Less(t, rows, 250)
	})

	t.Run("many F2 grouped by F1", func(t *testing.T) {
		do(t, chromedp.Navigate(srv.URL+fmt.Sprintf("/#case=%d&depth=2", groupedCase)), visible(`#graph-note`), shot("10-many-f2-grouped"))
		require.Contains(t, text(t, `#graph-note`), "1,200 F2 are drawn as 60 groups")
		require.Equal(t, 60, eval[int](ctx, t, `document.querySelectorAll('#graph circle.grp').length`))
		do(t, click(`#graph circle.grp`), chromedp.Sleep(500*time.Millisecond))
		require.True(t, strings.HasPrefix(value(t, `#f2-table input.filter`), "by:1000"))
		require.GreaterOrEqual(t, eval[int](ctx, t, `document.querySelectorAll('#f2-table tbody tr').length`), 20)
	})
}

// eval runs a JavaScript expression in the page and returns its value.
func eval[T any](ctx context.Context, t *testing.T, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}
