// Package audit defines the trail of who looked at what: every exposure
// lookup (answered or refused), every visitor list, every change to accounts
// and cases, with the account that asked, its roles, the purpose it gave, the
// case, the window and what came back. Health departments must be able to
// show who looked at whose contacts.
//
// The trail is append-only and tamper-evident: entries are numbered from 1
// without gaps and each carries the hash of the one before (Prev) and its own
// (Hash, SHA-256 over its canonical JSON with Hash empty), so altering or
// removing an entry breaks the chain at that entry; Verify finds it. A Log
// assigns Seq, Prev and Hash itself, under a lock that spans every process
// appending to the same trail.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Actions name what an entry records (a closed set).
const (
	ActionExposures     = "exposures"      // GET /v1/cases/{id}/exposures
	ActionVisitors      = "visitors"       // GET /v1/venues/{id}/visitors
	ActionCaseRegister  = "case.register"  // POST /v1/cases
	ActionAccountCreate = "account.create" // POST /v1/accounts, truyvet accounts create
	ActionAccountRevoke = "account.revoke" // DELETE /v1/accounts/{id}, truyvet accounts revoke
	ActionSiteCreate    = "site.create"    // POST /v1/exposure-sites
	ActionSiteApprove   = "site.approve"   // POST /v1/exposure-sites/{id}/approve
	ActionSiteRetract   = "site.retract"   // POST /v1/exposure-sites/{id}/retract
)

// Limits on the free-text fields, in bytes; longer values are cut (on a
// rune boundary) and marked with a trailing "…".
const (
	MaxPurpose   = 200 * 4 // the API takes 3–200 characters; a character is at most 4 bytes
	MaxRequester = 200
	MaxName      = 200
	MaxReason    = 200
	MaxRemote    = 64
	MaxSubject   = 64
)

// Actor is the account behind an entry.
type Actor struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// Entry is one audited action.
type Entry struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Action     string    `json:"action"`
	Account    Actor     `json:"account"`
	Purpose    string    `json:"purpose,omitempty"`
	Requester  string    `json:"requester,omitempty"` // the X-Requested-By header, capped
	Remote     string    `json:"remote"`
	Case       uint32    `json:"case,omitempty"`
	Venue      uint32    `json:"venue,omitempty"`
	Subject    string    `json:"subject,omitempty"` // the account created or revoked
	From       time.Time `json:"from,omitzero"`
	To         time.Time `json:"to,omitzero"`
	Depth      int       `json:"depth,omitempty"`
	MinMinutes float64   `json:"min_minutes,omitempty"`
	Definition string    `json:"definition,omitempty"` // name@version of the contact definition a lookup ran under
	Format     string    `json:"format,omitempty"`
	F1         int       `json:"f1"`
	F2         int       `json:"f2"`
	Casual     int       `json:"casual,omitempty"` // casual co-presence listed`
	Rows       int       `json:"rows,omitempty"`   // visitor list rows
	Status     int       `json:"status"`
	Reason     string    `json:"reason,omitempty"` // why it was refused
	Prev       string    `json:"prev"`
	Hash       string    `json:"hash"`
}

// Bound cuts every free-text field to its limit, so a caller cannot fill the
// trail with a 10 KB header.
func (e *Entry) Bound() {
	e.Purpose = Cut(e.Purpose, MaxPurpose)
	e.Requester = Cut(e.Requester, MaxRequester)
	e.Account.Name = Cut(e.Account.Name, MaxName)
	e.Account.ID = Cut(e.Account.ID, MaxSubject)
	e.Reason = Cut(e.Reason, MaxReason)
	e.Remote = Cut(e.Remote, MaxRemote)
	e.Subject = Cut(e.Subject, MaxSubject)
	e.Action = Cut(e.Action, MaxSubject)
	e.Format = Cut(e.Format, 16)
	e.Definition = Cut(e.Definition, MaxSubject+16)
	roles := e.Account.Roles[:min(len(e.Account.Roles), 16)]
	e.Account.Roles = make([]string, len(roles))
	for i, r := range roles {
		e.Account.Roles[i] = Cut(r, 32)
	}
}

// Cut returns s cut to at most limit bytes on a rune boundary, with invalid
// UTF-8 and control characters replaced by U+FFFD and "…" marking a cut.
func Cut(s string, limit int) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		s = clean(s)
	}
	if len(s) <= limit {
		return s
	}
	const ell = "…"
	n := limit - len(ell)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)] + ell
}

func clean(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s { // invalid bytes come out as U+FFFD
		if unicode.IsControl(r) {
			r = utf8.RuneError
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// ComputeHash returns the hash the entry should carry: SHA-256 over its JSON
// with Hash empty (Prev, and so the whole chain before it, included).
func (e Entry) ComputeHash() string {
	e.Hash = ""
	b, err := json.Marshal(e)
	if err != nil {
		panic("BUG: audit entry does not encode: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Chain fills Seq, Prev and Hash of e as the entry after (prevSeq, prevHash);
// a Log calls it while it holds the trail's lock.
func Chain(e Entry, prevSeq uint64, prevHash string) Entry {
	e.Bound()
	e.Seq, e.Prev = prevSeq+1, prevHash
	e.Hash = e.ComputeHash()
	return e
}

// Filter selects entries for GET /v1/audit; zero fields match everything.
type Filter struct {
	Case      uint32
	Account   string // account id
	Requester string // X-Requested-By, or the account's name
	Since     time.Time
	Limit     int
}

// Match reports whether e passes f (Limit aside).
func (f Filter) Match(e Entry) bool {
	return (f.Case == 0 || e.Case == f.Case) &&
		(f.Account == "" || e.Account.ID == f.Account) &&
		(f.Requester == "" || e.Requester == f.Requester || e.Account.Name == f.Requester) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since))
}

// Log is the append-only trail.
type Log interface {
	// Append chains e after the last entry and stores it durably; it
	// returns the entry as stored.
	Append(ctx context.Context, e Entry) (Entry, error)
	// Entries lists entries passing f, newest first, at most f.Limit.
	Entries(ctx context.Context, f Filter) ([]Entry, error)
	// All yields every entry in order of Seq, as stored.
	All(ctx context.Context) iter.Seq2[Entry, error]
}

// ErrBroken is the error Verify returns when the chain does not hold.
var ErrBroken = errors.New("audit chain broken")

// BrokenError names the first entry where the chain does not hold.
type BrokenError struct {
	Seq    uint64 // the entry found at that place (or expected, when missing)
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("%v at entry %d: %s", ErrBroken, e.Seq, e.Reason)
}

func (e *BrokenError) Unwrap() error { return ErrBroken }

// Verify reads the whole trail and checks the chain: numbering from 1
// without gaps, each Prev the Hash before it, each Hash its content's. It
// returns the number of entries checked. Removing entries from the end
// cannot be seen from the trail alone; keep the last (seq, hash) it reports
// elsewhere to detect that.
func Verify(ctx context.Context, l Log) (n uint64, last string, err error) {
	for e, err := range l.All(ctx) {
		if err != nil {
			return n, last, err
		}
		switch {
		case e.Seq != n+1:
			return n, last, &BrokenError{Seq: n + 1, Reason: fmt.Sprintf("entry %d is missing (next found is %d)", n+1, e.Seq)}
		case e.Prev != last:
			return n, last, &BrokenError{Seq: e.Seq, Reason: "does not carry the hash of the entry before it"}
		case e.ComputeHash() != e.Hash:
			return n, last, &BrokenError{Seq: e.Seq, Reason: "content does not match its hash (altered)"}
		}
		n, last = e.Seq, e.Hash
	}
	return n, last, nil
}
