package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/api"
	"github.com/truyvet/truyvet/query/api/ui"
	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/query/siteapi"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/sites"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/venuetest"
)

// TestSitePagesInABrowser goes from a case's exposure sites to a draft
// with its reach by hour, has another account approve it (the drafting
// one is refused), watches the alerts go out, and reads the public list.
func TestSitePagesInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	bin := findChromium(t)
	ctx0 := t.Context()
	s, err := pebblestore.Open(ctx0, pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20, NoSync: true})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	spec := venuetest.Spec(1)
	spec.ID = 72
	_, err = s.Register(ctx0, []venue.Spec{spec})
	require.NoError(t, err)
	mt := sites.NewMatcher(s, s, s, nil, nil, nil, time.Now)
	p, err := processor.New(s.Layout(), mt, nil)
	require.NoError(t, err)
	t0 := time.Now().Add(-4 * time.Hour).Truncate(time.Minute).Unix()
	vs := []event.Visit{{VisitID: "case", UserID: 1001, VenueID: 72, Enter: t0, Exit: t0 + 3600}}
	for u := range 12 {
		enter := t0 - 1800 + int64(u)*600
		vs = append(vs, event.Visit{VisitID: fmt.Sprint("v", u), UserID: uint32(2000 + u), VenueID: 72, Enter: enter, Exit: enter + 1500})
	}
	require.NoError(t, p.Process(ctx0, &event.Batch{Visits: vs}))

	fan := sites.NewFanout(sites.FanoutConfig{Wave: 3, Interval: time.Hour}, s, s, nil, nil, nil, time.Now)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fan.Run(runCtx) }()
	defer func() { stop(); <-done }()
	engine := graph.NewEngine(s)
	mux := http.NewServeMux()
	api.New(api.DefaultConfig(), engine, s, nil, definitions.New(s), api.NewMetrics(nil), nil, time.Now).Register(mux)
	siteapi.New(siteapi.Deps{Store: s, Venues: s, Stays: s, Fanout: fan,
		Contacts: func(ctx context.Context, c uint32, from, to int64) (map[uint32]bool, error) {
			res, err := engine.Exposures(ctx, graph.Query{Case: c, Window: graph.Window{From: from, To: to}, Depth: 1, MinSeconds: 900, ContactsOnly: true})
			if err != nil {
				return nil, err
			}
			out := map[uint32]bool{}
			for _, n := range res.Nodes {
				out[n.UserID] = n.Tier == 1
			}
			return out, nil
		},
		Changed: func(ctx context.Context) { _ = mt.Refresh(ctx) }}).Register(mux)
	mux.Handle("/", ui.Handler())
	accounts := map[string]string{"Bearer tvk_epi": "acc_epi", "Bearer tvk_approver": "acc_approver"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := accounts[r.Header.Get("Authorization")]; ok {
			r = r.WithContext(access.WithAccount(r.Context(), access.Account{ID: id, Name: id}))
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1200, 1400))
	actx, cancelA := chromedp.NewExecAllocator(ctx0, opts...)
	defer cancelA()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()
	_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `if (!sessionStorage.getItem('truyvet.token')) sessionStorage.setItem('truyvet.token', 'tvk_epi'); sessionStorage.setItem('truyvet.purpose', 'browser test of exposure sites');`})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"})
	require.NoError(t, err)
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...))
	}

	// From the case's graph: its exposure site at venue 72 links to a draft.
	from, to := time.Unix(t0-3600, 0).In(api.Local).Format(time.RFC3339), time.Unix(t0+7200, 0).In(api.Local).Format(time.RFC3339)
	hash := "#case=1001&from=" + url.QueryEscape(from) + "&to=" + url.QueryEscape(to) + "&depth=1&min_minutes=15"
	do(chromedp.Navigate(srv.URL+"/"+hash), chromedp.WaitVisible(chromedp.CSS(`#sites-table a.draft-site`)))
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#sites-table a.draft-site').getAttribute('href')`))
	require.NoError(t, err)
	require.Contains(t, href, "venue=72")
	require.Contains(t, href, "case=1001")
	do(chromedp.Click(chromedp.CSS(`#sites-table a.draft-site`)), chromedp.WaitVisible(chromedp.CSS(`#draft-form`)))
	require.Equal(t, "72", valueOf(ctx, t, "#s-venue"))

	do(chromedp.Click(chromedp.CSS(`#draft-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#site`)))
	require.Equal(t, "draft", text(`#site-status`))
	people := text(`#site-people`)
	drafted, err := s.Site(ctx0, 1)
	require.NoError(t, err)
	require.Equal(t, uint32(1001), drafted.CaseID)
	sf, st := drafted.Window()
	reach, err := sites.Reach(ctx0, s, 72, sf, st)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(len(reach)), people, "the preview's reach")
	require.NotEqual(t, "0", text(`#site-already`), "people the case met there are already contacts")
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#reach-hist .bar').length`))
	require.NoError(t, err)
	require.Equal(t, int((st-sf+3599)/3600), bars, "one bar per hour of the window")

	// The drafting account cannot approve; another can.
	do(chromedp.Click(chromedp.CSS(`#approve`)), chromedp.WaitVisible(chromedp.CSS(`#site-error`)))
	require.Contains(t, text(`#site-error`), "cannot approve")
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`sessionStorage.setItem('truyvet.token', 'tvk_approver'), true`))
	require.NoError(t, err)
	do(chromedp.Click(chromedp.CSS(`#approve`)))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('site-status').textContent === 'published' &&
		document.getElementById('site-sent').textContent.startsWith('`+people+` exposure')`))
	require.NoError(t, err, "alerts go out: %s", text(`#site-sent`))

	// The public list, without a token.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`sessionStorage.removeItem('truyvet.token'), true`))
	require.NoError(t, err)
	do(chromedp.Navigate(srv.URL+"/exposure-sites.html"), chromedp.WaitVisible(chromedp.CSS(`#sites-summary`)))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('#public-sites tbody tr').length === 1`))
	require.NoError(t, err)
	row := text(`#public-sites tbody`)
	require.Contains(t, row, spec.Name)
	require.Contains(t, row, "Tự theo dõi sức khỏe")
	require.NotContains(t, row, "1001", "no personal data")
}

func valueOf(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return v
}
