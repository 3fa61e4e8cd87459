// Package definitions is the catalog of contact definitions exposure
// lookups run under: the shipped ones (schemas/definition) and those
// epidemiologists add, each version immutable. A POST makes the next
// version of its name, never an edit; lookups name one as name (its newest
// version) or name@version, and without a name get default@1.
package definitions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/truyvet/truyvet/schemas/definition"
)

// Store keeps added definitions durably. The embedded store and the
// ClickHouse store implement it.
type Store interface {
	// Definitions lists every stored definition version, in any order. The
	// caller owns the slice.
	Definitions(ctx context.Context) ([]definition.Definition, error)
	// AddDefinition stores d, whose Version is set, and returns nil once it is
	// durable. It never changes a stored version: a name@version already
	// stored as another definition is ErrExists.
	AddDefinition(ctx context.Context, d definition.Definition) error
}

// Errors of the catalog.
var (
	ErrUnknown = errors.New("no such contact definition")
	ErrExists  = errors.New("that definition version is already stored")
	ErrNoStore = errors.New("this server keeps no contact definitions of its own")
)

// Catalog resolves and adds definitions. It is safe for concurrent use;
// adds are serialised within one process, and a store refuses a version
// another process took first (the add then takes the next one).
type Catalog struct {
	store   Store
	shipped []definition.Definition
	mu      sync.Mutex
}

// New returns the catalog over store (nil: only the shipped definitions,
// and adds fail).
func New(store Store) *Catalog { return &Catalog{store: store, shipped: definition.Shipped()} }

// List returns every definition version, shipped and stored, sorted by name
// and version.
func (c *Catalog) List(ctx context.Context) ([]definition.Definition, error) {
	all := slices.Clone(c.shipped)
	if c.store != nil {
		stored, err := c.store.Definitions(ctx)
		if err != nil {
			return nil, fmt.Errorf("read contact definitions: %w", err)
		}
		for _, d := range stored {
			if !slices.ContainsFunc(all, func(o definition.Definition) bool { return o.Ref() == d.Ref() }) {
				all = append(all, d)
			}
		}
	}
	slices.SortFunc(all, func(a, b definition.Definition) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	return all, nil
}

// Resolve returns name@version, or name's newest version when version is 0.
func (c *Catalog) Resolve(ctx context.Context, name string, version int) (definition.Definition, error) {
	// A shipped version never changes, and default@1 is every plain lookup's:
	// no store read for it.
	if i := slices.IndexFunc(c.shipped, func(d definition.Definition) bool { return d.Name == name && d.Version == version }); i >= 0 {
		return c.shipped[i], nil
	}
	all, err := c.List(ctx)
	if err != nil {
		return definition.Definition{}, err
	}
	var found *definition.Definition
	for i := range all {
		if d := &all[i]; d.Name == name && (version == 0 || d.Version == version) {
			found = d
		}
	}
	if found == nil {
		if version == 0 {
			return definition.Definition{}, fmt.Errorf("%w: %s", ErrUnknown, name)
		}
		return definition.Definition{}, fmt.Errorf("%w: %s@%d", ErrUnknown, name, version)
	}
	return *found, nil
}

// maxAttempts bounds how often Add tries the next version when other
// processes keep taking it.
const maxAttempts = 5

// Add stores d as the next version of its name and returns it as stored.
func (c *Catalog) Add(ctx context.Context, d definition.Definition) (definition.Definition, error) {
	if c.store == nil {
		return definition.Definition{}, ErrNoStore
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for range maxAttempts {
		all, err := c.List(ctx)
		if err != nil {
			return definition.Definition{}, err
		}
		d.Version = 1
		for _, o := range all {
			if o.Name == d.Name {
				d.Version = max(d.Version, o.Version+1)
			}
		}
		if err := d.Validate(); err != nil {
			return definition.Definition{}, err
		}
		err = c.store.AddDefinition(ctx, d)
		if errors.Is(err, ErrExists) {
			continue
		}
		if err != nil {
			return definition.Definition{}, fmt.Errorf("store contact definition %s: %w", d.Ref(), err)
		}
		return d, nil
	}
	return definition.Definition{}, fmt.Errorf("store contact definition %s: %w", d.Name, ErrExists)
}

// Memory is a Store in memory, for tests and servers that keep none.
type Memory struct {
	mu sync.Mutex
	ds []definition.Definition
}

// Definitions implements Store.
func (m *Memory) Definitions(context.Context) ([]definition.Definition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.ds), nil
}

// AddDefinition implements Store.
func (m *Memory) AddDefinition(_ context.Context, d definition.Definition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.ContainsFunc(m.ds, func(o definition.Definition) bool { return o.Ref() == d.Ref() }) {
		return ErrExists
	}
	m.ds = append(m.ds, d)
	return nil
}
