package event

import (
	"encoding/binary"
	"errors"
	"strings"
)

// Topics are the Kafka topics of one deployment: a prefix (so several
// deployments or test runs share a cluster) and a fixed suffix per stream.
type Topics struct {
	Checkins     string // visits, keyed by venue shard
	Proximity    string // encounters, keyed by unordered pair shard
	Declarations string // health declarations, keyed by subject shard
	Assessments  string // venues' daily self-checks, keyed by venue shard
	DeadLetter   string // records a processor could not take, with the reason in a header
	Alerts       string // exposure-site alerts (JSON), keyed by user, for the apps' push services
}

// ErrBadTopicPrefix is returned for a prefix Kafka would not accept.
var ErrBadTopicPrefix = errors.New("topic prefix may hold only ASCII letters, digits, '.', '_' and '-' (at most 200)")

// TopicsFor returns the topics under prefix, e.g. "truyvet." → "truyvet.checkins".
func TopicsFor(prefix string) (Topics, error) {
	if len(prefix) > 200 || strings.IndexFunc(prefix, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) >= 0 {
		return Topics{}, ErrBadTopicPrefix
	}
	return Topics{Checkins: prefix + "checkins", Proximity: prefix + "proximity", Declarations: prefix + "declarations",
		Assessments: prefix + "assessments", DeadLetter: prefix + "deadletter", Alerts: prefix + "alerts"}, nil
}

// All lists the topics.
func (t Topics) All() []string {
	return []string{t.Checkins, t.Proximity, t.Declarations, t.Assessments, t.DeadLetter, t.Alerts}
}

// Records lists the topics the processors consume: those that carry
// records (not the dead letters, not the alerts they send).
func (t Topics) Records() []string {
	return []string{t.Checkins, t.Proximity, t.Declarations, t.Assessments}
}

// Shards is the number of virtual shards records are keyed by. A shard is the
// unit of ownership: one processor at a time owns all of a shard's records, so
// all check-ins of a venue meet in one worker. Partitions are assigned whole
// shards by hashing the shard key, so any partition count up to Shards works.
const Shards = 256

// VisitShard is the shard of a visit: by venue.
func VisitShard(v *Visit) uint16 { return uint16(mixShard(uint64(v.VenueID)) % Shards) }

// AssessmentShard is the shard of an assessment: by venue, like its check-ins.
func AssessmentShard(a *Assessment) uint16 { return uint16(mixShard(uint64(a.VenueID)) % Shards) }

// EncounterShard is the shard of an encounter: by unordered pair, so the two
// phones' reports of one meeting travel together.
func EncounterShard(e *Encounter) uint16 {
	a, b := e.UserID, e.PeerID
	if a > b {
		a, b = b, a
	}
	return uint16(mixShard(uint64(a)<<32|uint64(b)) % Shards)
}

// ShardKey is the Kafka message key of a shard.
func ShardKey(shard uint16) []byte { return binary.BigEndian.AppendUint16(nil, shard) }

// mixShard spreads sequential ids over shards (splitmix64 finaliser).
func mixShard(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
