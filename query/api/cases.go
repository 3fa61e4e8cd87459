package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/truyvet/truyvet/cases"
	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/query/audit"
)

// maxCaseBody bounds the body of POST /v1/cases.
const maxCaseBody = 64 << 10

var errNoRegistry = errors.New("this server keeps no case registry")

// caseJSON is a registered case with its infectious window.
type caseJSON struct {
	cases.Case
	Window windowJSON `json:"infectious_window"`
}

type windowJSON struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

func newCaseJSON(c cases.Case) caseJSON {
	from, to := c.InfectiousWindow()
	return caseJSON{Case: c, Window: windowJSON{From: from.In(Local), To: to.In(Local)}}
}

// registerCase is POST /v1/cases: 201 for a new case, 200 for the same
// facts again, 409 for other facts about a registered id. Audited.
func (a *API) registerCase(w http.ResponseWriter, r *http.Request) {
	code := http.StatusCreated
	defer func() { a.m.requests.WithLabelValues("cases", strconv.Itoa(code)).Inc() }()
	now := a.now()
	entry := a.entry(r, audit.ActionCaseRegister, now)
	ctx := r.Context()
	fail := func(err error) {
		code = statusOf(err)
		entry.Status, entry.Reason = code, err.Error()
		_ = a.record(ctx, entry)
		writeError(w, err)
	}
	if a.cases == nil {
		fail(errNoRegistry)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxCaseBody+1))
	if err != nil || len(b) > maxCaseBody {
		fail(&cases.FieldError{Field: "body", Reason: "too_large", Detail: "at most 64 KiB"})
		return
	}
	c, err := cases.Decode(b, a.pl, now, a.cfg.ClockSkew)
	if err != nil {
		entry.Case = c.UserID
		fail(err)
		return
	}
	entry.Case = c.UserID
	c.RegisteredBy, c.RegisteredAt = entry.Account.ID, now.UTC().Truncate(time.Second)
	created, err := a.cases.RegisterCase(ctx, c)
	if err != nil {
		fail(err)
		return
	}
	if !created {
		code = http.StatusOK
		if c, err = a.cases.Case(ctx, c.UserID); err != nil {
			fail(err)
			return
		}
	}
	entry.Status = code
	if err := a.record(ctx, entry); err != nil {
		code = writeError(w, err)
		return
	}
	jsonhttp.Write(w, code, newCaseJSON(c))
}

// getCase is GET /v1/cases/{id}.
func (a *API) getCase(w http.ResponseWriter, r *http.Request) {
	code := http.StatusOK
	defer func() { a.m.requests.WithLabelValues("cases", strconv.Itoa(code)).Inc() }()
	id, err := caseID(r)
	if err != nil {
		code = writeError(w, err)
		return
	}
	if a.cases == nil {
		code = writeError(w, cases.ErrNotFound)
		return
	}
	c, err := a.cases.Case(r.Context(), id)
	if err != nil {
		code = writeError(w, err)
		return
	}
	jsonhttp.Write(w, code, newCaseJSON(c))
}
