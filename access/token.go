package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// TokenPrefix starts every token truyvet issues, so secret scanners and
// people recognise one in a log or a paste.
const TokenPrefix = "tvk_"

// tokenBytes is the randomness in a token: 256 bits.
const tokenBytes = 32

// tokenLen is the length of a token: the prefix and base64url of tokenBytes.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// ErrBadToken is returned for a string that is not a token truyvet issued.
var ErrBadToken = errors.New("malformed token")

// TokenHash is how a token is stored: SHA-256 of the token. The token has
// 256 random bits, so a plain cryptographic hash (no salt, no stretching) is
// enough to make the stored hash useless to whoever reads it.
type TokenHash [sha256.Size]byte

// NewToken returns a fresh random token and its hash.
func NewToken() (string, TokenHash, error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", TokenHash{}, fmt.Errorf("random token: %w", err)
	}
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return tok, HashToken(tok), nil
}

// HashToken returns the stored form of tok.
func HashToken(tok string) TokenHash { return sha256.Sum256([]byte(tok)) }

// ParseToken checks that s has the shape of a token truyvet issues (prefix,
// length, alphabet) and returns its hash. It never looks anything up.
func ParseToken(s string) (TokenHash, error) {
	if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return TokenHash{}, ErrBadToken
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(s[len(TokenPrefix):]); err != nil {
		return TokenHash{}, ErrBadToken
	}
	return HashToken(s), nil
}

// BearerToken returns the credential of an Authorization header value
// ("Bearer <token>", scheme case-insensitive), or "" when there is none.
func BearerToken(header string) string {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}
