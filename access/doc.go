// Package access is who may do what: accounts with roles, provinces (or
// national scope) and venues; bearer tokens (prefix "tvk_", 256 random bits,
// stored only as a SHA-256 hash); one policy table, route → roles and
// jurisdiction rule (DefaultPolicy); one decision (Decide); and one
// middleware (Guard) that applies them to every request, so handlers never
// check roles themselves.
//
// Refusals answer 401 with WWW-Authenticate: Bearer (no token, or a
// malformed, unknown or revoked one) or 403 {"error", "reason"} with reason
// forbidden_role or out_of_jurisdiction; rate limits answer 429 with
// Retry-After. Refused requests on audited routes are written to the audit
// trail. Tokens are never logged.
//
// A distributed process keeps the accounts of recently seen tokens in a
// TokenCache, which its store's RevocationFeed (PostgreSQL LISTEN/NOTIFY)
// empties at every revocation and which is bypassed while the feed is down.
//
// Metrics (see NewMetrics): truyvet_auth_requests_total{result},
// truyvet_auth_rate_limited_total; the cache's
// truyvet_auth_token_cache_lookups_total{result},
// truyvet_auth_token_cache_flushes_total, truyvet_auth_token_cache_listening.
package access
