package definitions_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/query/definitions"
	"github.com/truyvet/truyvet/schemas/definition"
)

// racing is a store another server writes to first: its first add of each
// version is refused as taken.
type racing struct {
	definitions.Memory
	lost int
}

func (r *racing) AddDefinition(ctx context.Context, d definition.Definition) error {
	if r.lost < 2 {
		r.lost++
		other := d
		other.Casual = !d.Casual
		if err := r.Memory.AddDefinition(ctx, other); err != nil {
			return err
		}
		return definitions.ErrExists
	}
	return r.Memory.AddDefinition(ctx, d)
}

func TestCatalog(t *testing.T) {
	ctx := t.Context()
	cat := definitions.New(nil)
	all, err := cat.List(ctx)
	require.NoError(t, err)
	require.Len(t, all, len(definition.Shipped()))
	d, err := cat.Resolve(ctx, "default", 0)
	require.NoError(t, err)
	require.Equal(t, "default@1", d.Ref())
	_, err = cat.Resolve(ctx, "nope", 0)
	require.ErrorIs(t, err, definitions.ErrUnknown)
	_, err = cat.Add(ctx, d)
	require.ErrorIs(t, err, definitions.ErrNoStore)

	// An add that loses its version to another server takes the next one.
	st := &racing{}
	cat = definitions.New(st)
	nd, err := definition.Parse([]byte(`{"name":"late","channels":{"proximity":{"min_minutes":5}}}`))
	require.NoError(t, err)
	got, err := cat.Add(ctx, nd)
	require.NoError(t, err)
	require.Equal(t, "late@3", got.Ref())
	newest, err := cat.Resolve(ctx, "late", 0)
	require.NoError(t, err)
	require.Equal(t, got, newest)
}
