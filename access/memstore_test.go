package access_test

import (
	"context"
	"sync"
	"time"

	"github.com/truyvet/truyvet/access"
)

// memStore is an in-memory access.Store for the guard's tests; the real
// stores run the conformance suite in store/statetest.
type memStore struct {
	mu       sync.Mutex
	accounts []access.Account
	byHash   map[access.TokenHash]string
}

func newMemStore() *memStore { return &memStore{byHash: map[access.TokenHash]string{}} }

func (m *memStore) CreateAccount(_ context.Context, a access.Account, h access.TokenHash) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accounts = append(m.accounts, a)
	m.byHash[h] = a.ID
	return nil
}

func (m *memStore) AccountByToken(ctx context.Context, h access.TokenHash) (access.Account, error) {
	m.mu.Lock()
	id, ok := m.byHash[h]
	m.mu.Unlock()
	if !ok {
		return access.Account{}, access.ErrNotFound
	}
	return m.Account(ctx, id)
}

func (m *memStore) Account(_ context.Context, id string) (access.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.accounts {
		if a.ID == id {
			return a, nil
		}
	}
	return access.Account{}, access.ErrNotFound
}

func (m *memStore) Accounts(context.Context) ([]access.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]access.Account(nil), m.accounts...), nil
}

func (m *memStore) RevokeAccount(_ context.Context, id string, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.accounts {
		if m.accounts[i].ID == id {
			if m.accounts[i].RevokedAt == nil {
				m.accounts[i].RevokedAt = &t
			}
			return nil
		}
	}
	return access.ErrNotFound
}

func (m *memStore) HasAdmin(context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.accounts {
		if a.Active() && a.HasRole(access.RoleAdmin) {
			return true, nil
		}
	}
	return false, nil
}
