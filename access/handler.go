package access

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/truyvet/truyvet/internal/jsonhttp"
	"github.com/truyvet/truyvet/province"
	"github.com/truyvet/truyvet/query/audit"
)

// Accounts serves POST /v1/accounts, GET /v1/accounts and DELETE
// /v1/accounts/{id} (the guard lets only admins through), and is what
// `truyvet accounts` uses on the command line. Every change is audited.
type Accounts struct {
	Store Store
	Trail audit.Log // nil: not audited
	Log   *slog.Logger
	Now   func() time.Time
}

// Register adds the routes to mux.
func (h *Accounts) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/accounts", h.create)
	mux.HandleFunc("GET /v1/accounts", h.list)
	mux.HandleFunc("DELETE /v1/accounts/{id}", h.revoke)
}

// Created is the answer to a create: the token is shown once.
type Created struct {
	AccountID string  `json:"account_id"`
	Token     string  `json:"token"`
	Account   Account `json:"account"`
}

// Create makes an account from s on behalf of by (an account, or the
// operator on the command line), audited.
func (h *Accounts) Create(ctx context.Context, s Spec, by audit.Actor, remote string) (Created, error) {
	if err := s.Validate(province.Default()); err != nil {
		return Created{}, err
	}
	now := h.Now()
	a, tok, hash, err := NewAccount(s, by.ID, now)
	if err != nil {
		return Created{}, err
	}
	if err := h.Store.CreateAccount(ctx, a, hash); err != nil {
		return Created{}, err
	}
	h.audit(ctx, audit.Entry{Time: now, Action: audit.ActionAccountCreate, Account: by, Remote: remote,
		Subject: a.ID, Status: http.StatusCreated})
	return Created{AccountID: a.ID, Token: tok, Account: a}, nil
}

// Revoke revokes account id on behalf of by, audited.
func (h *Accounts) Revoke(ctx context.Context, id string, by audit.Actor, remote string) (Account, error) {
	now := h.Now()
	if err := h.Store.RevokeAccount(ctx, id, now); err != nil {
		return Account{}, err
	}
	a, err := h.Store.Account(ctx, id)
	if err != nil {
		return Account{}, err
	}
	h.audit(ctx, audit.Entry{Time: now, Action: audit.ActionAccountRevoke, Account: by, Remote: remote,
		Subject: id, Status: http.StatusOK})
	return a, nil
}

func (h *Accounts) audit(ctx context.Context, e audit.Entry) {
	if h.Trail == nil {
		return
	}
	if _, err := h.Trail.Append(context.WithoutCancel(ctx), e); err != nil && h.Log != nil {
		h.Log.Error("cannot audit an account change", "action", e.Action, "subject", e.Subject, "err", err)
	}
}

func actorOf(r *http.Request) audit.Actor {
	if a, ok := AccountFrom(r.Context()); ok {
		return Actor(&a)
	}
	return Actor(nil)
}

func (h *Accounts) create(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeFieldError(w, &FieldError{"body", "invalid_json", "cannot read the body"})
		return
	}
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		writeFieldError(w, &FieldError{"body", "invalid_json", "a JSON object {name, roles, provinces, venues}"})
		return
	}
	c, err := h.Create(r.Context(), s, actorOf(r), r.RemoteAddr)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			writeFieldError(w, fe)
			return
		}
		h.fail(w, err)
		return
	}
	jsonhttp.Write(w, http.StatusCreated, c)
}

func (h *Accounts) list(w http.ResponseWriter, r *http.Request) {
	as, err := h.Store.Accounts(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, map[string]any{"accounts": as})
}

func (h *Accounts) revoke(w http.ResponseWriter, r *http.Request) {
	a, err := h.Revoke(r.Context(), r.PathValue("id"), actorOf(r), r.RemoteAddr)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such account", "not_found")
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, a)
}

func (h *Accounts) fail(w http.ResponseWriter, err error) {
	if h.Log != nil {
		h.Log.Error("accounts", "err", err)
	}
	writeError(w, http.StatusInternalServerError, "cannot reach the account store", "unavailable")
}

func writeFieldError(w http.ResponseWriter, fe *FieldError) {
	jsonhttp.Write(w, http.StatusBadRequest, map[string]string{"error": fe.Error(), "field": fe.Field, "reason": fe.Reason})
}
