// Package event owns truyvet's records: the QR-code visit, the Bluetooth
// encounter and the health declaration, their validation, and their encodings (the JSON of the HTTP API
// and the binary format carried between stages). Every stage that touches a
// record goes through this package, so there is one definition of a valid one.
package event

import "time"

// Kind names a record type. It is a closed set and safe as a metric label.
type Kind uint8

// The record kinds.
const (
	KindVisit       Kind = 1
	KindEncounter   Kind = 2
	KindDeclaration Kind = 3
	KindAssessment  Kind = 4 // a venue's daily self-check (assessment.go)
)

func (k Kind) String() string {
	switch k {
	case KindVisit:
		return "visit"
	case KindEncounter:
		return "encounter"
	case KindDeclaration:
		return "declaration"
	case KindAssessment:
		return "assessment"
	default:
		return "unknown"
	}
}

// Visit is one QR check-in, check-out, or both, for a stay at a venue.
// Times are Unix seconds. Exit is zero when the record carries no check-out.
//
// Records that share VisitID, UserID, VenueID and Enter describe one stay: its
// interval is [Enter, max(Exit)] over the records that carry an exit, or
// [Enter, Enter+dwell] when none does (see schemas/README.md, "stay identity").
type Visit struct {
	VisitID string
	UserID  uint32
	VenueID uint32
	Enter   int64
	Exit    int64 // 0: no check-out in this record
	Source  string
}

// HasExit reports whether the record carries a check-out.
func (v *Visit) HasExit() bool { return v.Exit != 0 }

// End is the end of the interval this record alone describes: its exit, or
// enter plus the default dwell when it has none.
func (v *Visit) End(dwell time.Duration) int64 {
	if v.HasExit() {
		return v.Exit
	}
	return v.Enter + int64(dwell/time.Second)
}

// Encounter is one Bluetooth proximity record reported by one phone. It puts
// UserID and PeerID in contact over [Start, Start+DurationS).
type Encounter struct {
	EncounterID string
	UserID      uint32
	PeerID      uint32
	Start       int64
	DurationS   uint32
	RSSI        int8
	HasRSSI     bool
	Source      string
}

// End is the exclusive end of the contact interval.
func (e *Encounter) End() int64 { return e.Start + int64(e.DurationS) }

// Batch is a group of validated records travelling between stages.
type Batch struct {
	Visits       []Visit
	Encounters   []Encounter
	Declarations []Declaration
	Assessments  []Assessment
}

// Len is the number of records in the batch.
func (b *Batch) Len() int {
	return len(b.Visits) + len(b.Encounters) + len(b.Declarations) + len(b.Assessments)
}

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	b.Visits = b.Visits[:0]
	b.Encounters = b.Encounters[:0]
	b.Declarations = b.Declarations[:0]
	b.Assessments = b.Assessments[:0]
}

// Append adds every record of o to b.
func (b *Batch) Append(o *Batch) {
	b.Visits = append(b.Visits, o.Visits...)
	b.Encounters = append(b.Encounters, o.Encounters...)
	b.Declarations = append(b.Declarations, o.Declarations...)
	b.Assessments = append(b.Assessments, o.Assessments...)
}
