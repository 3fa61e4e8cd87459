// Package declapi is the read side of health declarations: the contract
// stores keep for them (Store) and the HTTP routes over it.
package declapi

import (
	"context"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/schemas/event"
)

// Store reads declarations. Stores take them in through processor.Sink:
// records with equal (subject_id, declaration_id, declared_at) are one
// declaration, stored and counted once however often they are resent.
type Store interface {
	// Declarations returns the declarations about subjects whose
	// declared_at is in [from, to], each once, ordered by subject, then
	// declared_at, then declaration_id. The slice belongs to the caller.
	Declarations(ctx context.Context, subjects []uint32, from, to int64) ([]event.Declaration, error)
	// DeclarationCounts returns the counts of declarations per local day
	// (of declared_at), province, kind and symptomatic, over the days
	// [from, to], for the provinces given (nil: all). They are counters
	// kept as declarations arrive, not a scan of them. Order is
	// unspecified; a group with no declaration is absent.
	DeclarationCounts(ctx context.Context, provinces []string, from, to bucket.Day) ([]Count, error)
}

// Count is the number of declarations filed on one local day in one
// province, of one kind, with or without symptoms.
type Count struct {
	Day         bucket.Day
	Province    string
	Kind        event.DeclKind
	Symptomatic bool
	N           int64
}
