package ui_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/processor"
	"github.com/truyvet/truyvet/query/api/ui"
	"github.com/truyvet/truyvet/query/venueapi"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/pebblestore"
	"github.com/truyvet/truyvet/venue"
	"github.com/truyvet/truyvet/venue/poster"
	"github.com/truyvet/truyvet/venue/qrsig"
	"github.com/truyvet/truyvet/venue/venuetest"
)

type anyProvince struct{}

func (anyProvince) Valid(code string) bool { return len(code) == 2 }

// TestVenuePageInABrowser opens the venue page in headless Chromium over
// the real routes: the details in Vietnamese, the poster, and the visitor
// list its administrator asks for with a purpose.
func TestVenuePageInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	bin := findChromium(t)
	s, err := pebblestore.Open(t.Context(), pebblestore.Options{Dir: t.TempDir(), Layout: bucket.DefaultLayout(), CacheBytes: 8 << 20})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	codes, err := qrsig.NewKeyring([]qrsig.Key{{Secret: bytes.Repeat([]byte{8}, 32)}}, time.Hour, time.Now)
	require.NoError(t, err)
	posters, err := poster.NewRenderer()
	require.NoError(t, err)
	spec := venuetest.Spec(1)
	spec.ID = 72
	_, err = s.Register(t.Context(), []venue.Spec{spec})
	require.NoError(t, err)
	t0 := time.Now().Add(-3 * time.Hour).Unix()
	p, err := processor.New(s.Layout(), s, nil)
	require.NoError(t, err)
	require.NoError(t, p.Process(t.Context(), &event.Batch{Visits: []event.Visit{
		{VisitID: "a", UserID: 501, VenueID: 72, Enter: t0, Exit: t0 + 1200},
		{VisitID: "b", UserID: 502, VenueID: 72, Enter: t0 + 60},
	}}))
	var (
		mu      sync.Mutex // the server's goroutines record, the test reads
		audited []venueapi.VisitorsEntry
		tokens  []string
	)
	mux := http.NewServeMux()
	venueapi.New(venueapi.Deps{Registry: s, Provinces: anyProvince{}, Codes: codes, Posters: posters, Stays: s,
		Audit: func(_ context.Context, _ *http.Request, e venueapi.VisitorsEntry) error {
			mu.Lock()
			defer mu.Unlock()
			audited = append(audited, e)
			return nil
		}}).Register(mux)
	mux.Handle("/", ui.Handler())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			mu.Lock()
			tokens = append(tokens, r.Header.Get("Authorization"))
			mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1200, 1600))
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()
	// A session's token, as the main page keeps it; a zone far from +07:00,
	// which the page must not use.
	_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `sessionStorage.setItem('truyvet.token', 'tvk_browser_test');`})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"})
	require.NoError(t, err)

	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		require.NoError(t, err, sel)
		return v
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/venue.html?id=72"), chromedp.WaitVisible("#venue")))
	name, qr := text("#venue-name"), text("#venue-qr")
	posterWidth, err := chromedp.Run(ctx, chromedp.Poll[int](`document.getElementById("poster").complete && document.getElementById("poster").naturalWidth`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#w-purpose", "F0 1001: contact tracing"),
		chromedp.Click("#visitors-form button"), chromedp.WaitVisible("#visitors")))
	summary, rows := text("#visitors-summary"), text("#visitors tbody")
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.Equal(t, spec.Name, name, "the name in Vietnamese, as registered")
	require.Equal(t, codes.Code(72), qr)
	require.Equal(t, poster.Width, posterWidth, "the poster loaded")
	require.Equal(t, "2 stays (lượt)", summary)
	require.Contains(t, rows, "501")
	require.Contains(t, rows, "imputed")
	mu.Lock()
	gotAudit, gotTokens := slices.Clone(audited), slices.Clone(tokens)
	mu.Unlock()
	require.Len(t, gotAudit, 1)
	require.NotEmpty(t, gotTokens)
	for _, tok := range gotTokens {
		require.Equal(t, "Bearer tvk_browser_test", tok, "every API call carries the session's token")
	}
	require.Equal(t, "F0 1001: contact tracing", gotAudit[0].Purpose)
	if dir := os.Getenv("UI_SCREENSHOTS"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "venue.png"), shot, 0o600))
	}

	// An unknown venue says so.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/venue.html?id=9"), chromedp.WaitVisible("#venue-error")))
	msg := text("#venue-error")
	require.Contains(t, msg, "not found")
}
