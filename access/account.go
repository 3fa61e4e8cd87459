package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/truyvet/truyvet/province"
)

// Role is what an account may do (DESIGN "Access").
type Role string

// The roles.
const (
	RoleAdmin          Role = "admin"          // accounts
	RoleApp            Role = "app"            // the apps' backends: post records, register venues, read the alert feed
	RoleEpidemiologist Role = "epidemiologist" // cases, exposures, declarations, exposure sites
	RoleApprover       Role = "approver"       // approve or retract exposure sites
	RoleVenueAdmin     Role = "venue_admin"    // their venues' visitor lists and self-assessments
	RoleViewer         Role = "viewer"         // summaries, moderation queue
	RoleAuditor        Role = "auditor"        // GET /v1/audit
)

// Roles lists every role.
func Roles() []Role {
	return []Role{RoleAdmin, RoleApp, RoleEpidemiologist, RoleApprover, RoleVenueAdmin, RoleViewer, RoleAuditor}
}

// National is the province list of an account with national scope.
const National = "*"

// Account is a person or system that holds a token.
type Account struct {
	ID        string     `json:"account_id"`
	Name      string     `json:"name"`
	Roles     []Role     `json:"roles"`
	Provinces []string   `json:"provinces"`
	Venues    []uint32   `json:"venues"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// HasRole reports whether a has role r.
func (a Account) HasRole(r Role) bool { return slices.Contains(a.Roles, r) }

// IsNational reports whether a's scope is the whole country.
func (a Account) IsNational() bool { return slices.Contains(a.Provinces, National) }

// InProvince reports whether province code p is in a's scope.
func (a Account) InProvince(p string) bool { return a.IsNational() || slices.Contains(a.Provinces, p) }

// HasVenue reports whether a administers venue v.
func (a Account) HasVenue(v uint32) bool { return slices.Contains(a.Venues, v) }

// Active reports whether a is not revoked.
func (a Account) Active() bool { return a.RevokedAt == nil }

// RoleNames returns a's roles as strings, for the audit trail.
func (a Account) RoleNames() []string {
	out := make([]string, len(a.Roles))
	for i, r := range a.Roles {
		out[i] = string(r)
	}
	return out
}

// FieldError names the field of a request at fault and why.
type FieldError struct {
	Field, Reason, Detail string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason + ": " + e.Detail }

// Spec is what POST /v1/accounts and `truyvet accounts create` take.
type Spec struct {
	Name      string   `json:"name"`
	Roles     []Role   `json:"roles"`
	Provinces []string `json:"provinces"`
	Venues    []uint32 `json:"venues"`
}

// Validate checks s against the roles, the province list and the limits.
func (s Spec) Validate(pl *province.List) error {
	if n := utf8.RuneCountInString(s.Name); n < 1 || n > 200 || !utf8.ValidString(s.Name) {
		return &FieldError{"name", "invalid_value", "1 to 200 characters of UTF-8"}
	}
	if len(s.Roles) == 0 {
		return &FieldError{"roles", "missing_field", "at least one role"}
	}
	for _, r := range s.Roles {
		if !slices.Contains(Roles(), r) {
			return &FieldError{"roles", "invalid_value", fmt.Sprintf("unknown role %q", r)}
		}
	}
	if len(s.Provinces) == 0 {
		return &FieldError{"provinces", "missing_field", `province codes, or ["*"] for national scope`}
	}
	for _, p := range s.Provinces {
		if p == National {
			if len(s.Provinces) > 1 {
				return &FieldError{"provinces", "invalid_value", `"*" stands alone`}
			}
			continue
		}
		if !pl.Valid(p) {
			return &FieldError{"provinces", "invalid_value", fmt.Sprintf("unknown province code %q", p)}
		}
	}
	if slices.Contains(s.Roles, RoleVenueAdmin) != (len(s.Venues) > 0) {
		return &FieldError{"venues", "invalid_value", "venue admins have venues, other accounts none"}
	}
	if len(s.Venues) > 10_000 || slices.Contains(s.Venues, 0) {
		return &FieldError{"venues", "invalid_value", "at most 10000 venue ids, each 1 or more"}
	}
	return nil
}

// NewAccount returns an account made from spec s with a fresh id, its token
// (to show once) and the token's hash (to store).
func NewAccount(s Spec, createdBy string, now time.Time) (Account, string, TokenHash, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Account{}, "", TokenHash{}, fmt.Errorf("account id: %w", err)
	}
	tok, h, err := NewToken()
	if err != nil {
		return Account{}, "", TokenHash{}, err
	}
	a := Account{
		ID: "acc_" + hex.EncodeToString(id[:]), Name: s.Name,
		Roles: slices.Clone(s.Roles), Provinces: slices.Clone(s.Provinces), Venues: slices.Clone(s.Venues),
		CreatedAt: now.UTC().Truncate(time.Microsecond), CreatedBy: createdBy,
	}
	if a.Venues == nil {
		a.Venues = []uint32{}
	}
	return a, tok, h, nil
}

// Errors of a Store.
var (
	ErrNotFound = errors.New("no such account")
	ErrRevoked  = errors.New("account revoked")
)

// Store keeps accounts. A lookup reads the store; a process whose store
// other processes share caches tokens only while the store tells it of every
// revocation (TokenCache, RevocationFeed), so a revocation holds at once on
// every process sharing it.
type Store interface {
	// CreateAccount stores a with the hash of its token.
	CreateAccount(ctx context.Context, a Account, h TokenHash) error
	// AccountByToken returns the account holding the token with hash h,
	// revoked or not; ErrNotFound when none does.
	AccountByToken(ctx context.Context, h TokenHash) (Account, error)
	// Account returns the account with id; ErrNotFound when none has it.
	Account(ctx context.Context, id string) (Account, error)
	// Accounts lists every account, oldest first.
	Accounts(ctx context.Context) ([]Account, error)
	// RevokeAccount marks the account revoked at t; ErrNotFound when none
	// has the id. Revoking twice keeps the first time.
	RevokeAccount(ctx context.Context, id string, t time.Time) error
	// HasAdmin reports whether an active account has the admin role.
	HasAdmin(ctx context.Context) (bool, error)
}
