package ui_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/bench/demo"
	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/api/ui"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/query/safetyapi"
	"github.com/truyvet/truyvet/store/pebblestore"
)

// TestMapPageInABrowser loads /map in headless Chromium over the real
// Safety Map routes and a small demo city (its venues, their
// self-assessments and citizens' reports), with no other network: the
// province outlines come with the page. It checks that venues are drawn
// coloured by level, that a click shows the venue's history, and keeps a
// screenshot: map.png in the test's artifact directory (go test -artifacts
// -outputdir DIR keeps it) and under screenshots/ (gitignored) beside this
// file, as the other browser tests do.
func TestMapPageInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	bin := findChromium(t)
	s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	cfg := synth.Demo()
	cfg.People, cfg.Venues, cfg.Days, cfg.End = 600, 80, 3, time.Now()
	city, err := synth.New(cfg)
	require.NoError(t, err)
	_, err = s.Register(t.Context(), city.VenueSpecs())
	require.NoError(t, err)
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(t, err)
	loaded := &demo.Loaded{City: city, Window: graph.Window{}}
	require.NoError(t, loaded.LoadSafety(t.Context(), p, s))
	require.Positive(t, loaded.Assessments)

	h, err := safetyapi.New(safetyapi.Deps{Registry: s, Assessments: s, Feedback: s})
	require.NoError(t, err)
	mux := http.NewServeMux()
	h.Register(mux)
	mux.Handle("/", ui.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1400, 1100))
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	_, err = chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/map"), chromedp.WaitVisible(`body[data-ready="1"]`)))
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
		require.NoError(t, err, sel)
		return n
	}
	require.Equal(t, 63, count("#provinces path.province"), "the shipped outlines")
	require.Equal(t, cfg.Venues, count("#venues circle.venue"), "every registered venue")
	coloured := 0
	for _, l := range []string{"green", "yellow", "orange", "red"} {
		coloured += count("#venues circle.venue." + l)
	}
	require.Positive(t, coloured, "assessed venues are coloured by level")
	fill, err := chromedp.Run(ctx, chromedp.Poll[string](`getComputedStyle(document.querySelector("#venues circle.venue.green, #venues circle.venue.yellow, #venues circle.venue.red")).fill`))
	require.NoError(t, err)
	require.NotEqual(t, "rgb(0, 0, 0)", fill)

	// A click on an assessed venue shows its history, today first.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#venues circle.venue:not(.not_assessed)").dispatchEvent(new MouseEvent("click", {bubbles: true}))`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible("#history")))
	require.Equal(t, safetyapi.DefaultHistoryDays, count("#history-rows tr"))
	first, err := chromedp.Run(ctx, chromedp.Text("#history-rows tr:first-child"))
	require.NoError(t, err)
	today := bucket.DayOf(time.Now().Unix() - 60).String()
	require.Contains(t, first, today)
	name, err := chromedp.Run(ctx, chromedp.Text("#history-name"))
	require.NoError(t, err)
	require.NotEmpty(t, name)
	require.Positive(t, count("#province-rows tr"), "counts by province beside the map")

	// Filtering by a province keeps its venues only.
	code := city.VenueSpecs()[0].Province
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#m-province", code), chromedp.Click("#map-form button"),
		chromedp.WaitVisible(`#provinces path.selected`)))
	inProvince := 0
	for _, v := range city.VenueSpecs() {
		if v.Province == code {
			inProvince++
		}
	}
	require.Eventually(t, func() bool { return count("#venues circle.venue") == inProvince }, 10*time.Second, 100*time.Millisecond)

	// Back to the whole country for the picture.
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#m-province", ""), chromedp.Click("#map-form button")))
	require.Eventually(t, func() bool { return count("#venues circle.venue") == cfg.Venues }, 10*time.Second, 100*time.Millisecond)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(t.ArtifactDir(), "map.png"), shot, 0o600))
	shots, err := filepath.Abs(screenshotDir)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(shots, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(shots, "map.png"), shot, 0o600))
	if dir := os.Getenv("UI_SCREENSHOTS"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "map.png"), shot, 0o600))
	}
}
