package itenv

import (
	"testing"
)

// recorder notes how a test ended without ending the real one.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, _ ...any) { r.fatal = format }
func (r *recorder) Skipf(format string, _ ...any)  { r.skip = format }

func TestRequire(t *testing.T) {
	const name = "TRUYVET_IT_ITENV_PROBE"
	t.Setenv(name, "127.0.0.1:1")
	if got := Require(t, name, "probe"); got != "127.0.0.1:1" {
		t.Fatalf("Require = %q", got)
	}

	t.Setenv(name, "")
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	Require(r, name, "probe")
	if r.fatal == "" || r.skip != "" {
		t.Fatalf("under CI a missing service must fail the test: fatal %q skip %q", r.fatal, r.skip)
	}

	t.Setenv("CI", "")
	r = &recorder{TB: t}
	Require(r, name, "probe")
	if r.skip == "" || r.fatal != "" {
		t.Fatalf("outside CI a missing service skips the test: fatal %q skip %q", r.fatal, r.skip)
	}
}
