// Package qrsig makes and checks the text a venue's QR poster holds:
// "TV1.<venue_id>.<sig>", where sig is an HMAC-SHA-256 of "TV1.<venue_id>"
// under the deployment's secret, cut to 80 bits and written in base32
// (RFC 4648, upper case, no padding: 16 characters). The whole code is in
// QR's alphanumeric set, so posters stay small.
//
// A Keyring signs with its current key and also accepts codes signed with
// keys retired less than a grace period ago, so rotating the secret does not
// void the posters already on the walls at once.
package qrsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Prefix starts every code; it names the format's version.
const Prefix = "TV1."

// SigLen is the length of a code's signature.
const SigLen = 16

// MaxLen is the length of the longest code.
const MaxLen = len(Prefix) + 10 + 1 + SigLen

var sigEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Errors of Parse and Verify.
var (
	// ErrMalformed: not a TV1 code naming a venue id.
	ErrMalformed = errors.New("not a TV1.<venue_id>.<sig> code")
	// ErrSignature: the signature is not one of this deployment's keys'.
	ErrSignature = errors.New("signature does not verify")
	// ErrNoKey: a keyring needs a current key of at least MinSecretBytes.
	ErrNoKey = errors.New("a current key of at least 16 bytes is required")
)

// MinSecretBytes is the shortest secret a key may have.
const MinSecretBytes = 16

// Parse splits a code into its venue id and signature. It checks the form
// only (the signature's length and alphabet included), not the signature.
// A code parses only in its one canonical spelling.
func Parse(code string) (id uint32, sig string, err error) {
	if len(code) > MaxLen {
		return 0, "", fmt.Errorf("%d bytes: %w", len(code), ErrMalformed)
	}
	rest, ok := strings.CutPrefix(code, Prefix)
	if !ok {
		return 0, "", ErrMalformed
	}
	num, sig, ok := strings.Cut(rest, ".")
	if !ok || num == "" || num[0] == '0' || strings.Trim(num, "0123456789") != "" {
		return 0, "", ErrMalformed
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0, "", ErrMalformed
	}
	if len(sig) != SigLen || strings.Trim(sig, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		return 0, "", fmt.Errorf("venue %d: %w", n, ErrSignature)
	}
	return uint32(n), sig, nil
}

// Key is one secret. Retired is zero for the current key, else when it
// stopped signing.
type Key struct {
	Secret  []byte
	Retired time.Time
}

// Keyring signs and verifies codes. It is immutable (but for its pools of
// HMAC states, one per key, which spare ingest an allocation per code) and
// safe for concurrent use.
type Keyring struct {
	current *signer
	old     []retired
	grace   time.Duration
	now     func() time.Time
}

type retired struct {
	*signer
	at time.Time
}

// signer computes one key's signatures.
type signer struct{ pool sync.Pool }

func newSigner(secret []byte) *signer {
	s := &signer{}
	s.pool.New = func() any { return hmac.New(sha256.New, secret) }
	return s
}

// sign appends the signature of venue id to dst.
func (s *signer) sign(dst []byte, id uint32) []byte {
	m := s.pool.Get().(hash.Hash) //nolint:forcetypeassert // the pool makes only these
	defer s.pool.Put(m)
	m.Reset()
	var buf [len(Prefix) + 10]byte
	_, _ = m.Write(strconv.AppendUint(append(buf[:0], Prefix...), uint64(id), 10))
	var sum [sha256.Size]byte
	return sigEncoding.AppendEncode(dst, m.Sum(sum[:0])[:SigLen*5/8])
}

// NewKeyring takes exactly one current key and any retired ones; a retired
// key verifies codes until grace after its retirement.
func NewKeyring(keys []Key, grace time.Duration, now func() time.Time) (*Keyring, error) {
	k := &Keyring{grace: grace, now: now}
	for _, key := range keys {
		if len(key.Secret) < MinSecretBytes {
			return nil, fmt.Errorf("a key of %d bytes: %w", len(key.Secret), ErrNoKey)
		}
		if key.Retired.IsZero() {
			if k.current != nil {
				return nil, errors.New("two current keys")
			}
			k.current = newSigner(key.Secret)
			continue
		}
		k.old = append(k.old, retired{newSigner(key.Secret), key.Retired})
	}
	if k.current == nil {
		return nil, ErrNoKey
	}
	return k, nil
}

// Code is venue id's code, signed with the current key.
func (k *Keyring) Code(id uint32) string {
	b := strconv.AppendUint([]byte(Prefix), uint64(id), 10)
	return string(k.current.sign(append(b, '.'), id))
}

// Verify returns the venue id of a code signed by the current key or by a
// key within its grace period. Errors match ErrMalformed or ErrSignature.
func (k *Keyring) Verify(code string) (uint32, error) {
	id, sig, err := Parse(code)
	if err != nil {
		return 0, err
	}
	var want [SigLen]byte
	if hmac.Equal([]byte(sig), k.current.sign(want[:0], id)) {
		return id, nil
	}
	now := k.now()
	for _, old := range k.old {
		if now.Before(old.at.Add(k.grace)) && hmac.Equal([]byte(sig), old.sign(want[:0], id)) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("venue %d: %w", id, ErrSignature)
}
