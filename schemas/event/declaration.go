package event

import (
	"math/bits"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/truyvet/truyvet/province"
)

// DeclKind is what a health declaration is for: a closed set, safe as a
// metric label.
type DeclKind uint8

// The declaration kinds of DESIGN.md ("Health declarations").
const (
	DeclEntry     DeclKind = 1 // VHD: a person entering the country
	DeclDomestic  DeclKind = 2 // a journey inside the country
	DeclVoluntary DeclKind = 3 // NCOVI: for oneself or one's family
)

// DeclKinds lists every DeclKind.
var DeclKinds = []DeclKind{DeclEntry, DeclDomestic, DeclVoluntary}

func (k DeclKind) String() string {
	switch k {
	case DeclEntry:
		return "entry"
	case DeclDomestic:
		return "domestic"
	case DeclVoluntary:
		return "voluntary"
	default:
		return "unknown"
	}
}

// ParseDeclKind returns the kind named s, or false.
func ParseDeclKind(s string) (DeclKind, bool) {
	for _, k := range DeclKinds {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// Symptoms is a set of symptoms, bit i standing for SymptomNames[i].
type Symptoms uint16

// SymptomNames is the closed set of symptoms, in bit order. New symptoms are
// appended, never inserted: the bits are stored.
var SymptomNames = [...]string{
	"fever", "cough", "shortness_of_breath", "sore_throat", "loss_of_taste_or_smell",
	"fatigue", "muscle_pain", "diarrhea", "headache",
}

// allSymptoms has a bit set for every known symptom.
const allSymptoms = Symptoms(1)<<len(SymptomNames) - 1

// ParseSymptom returns the set holding the symptom named s alone, or false.
func ParseSymptom(s string) (Symptoms, bool) {
	for i, n := range SymptomNames {
		if n == s {
			return 1 << i, true
		}
	}
	return 0, false
}

// Names lists the symptoms of the set, in SymptomNames order.
func (s Symptoms) Names() []string {
	out := make([]string, 0, bits.OnesCount16(uint16(s)))
	for i, n := range SymptomNames {
		if s&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// DeclSources is the closed set of apps that file declarations.
var DeclSources = []string{"vhd", "ncovi", "bluezone", "tokhaiyte"}

// Answer is a yes/no answer that may not have been given.
type Answer uint8

// The answers.
const (
	AnswerNone Answer = 0
	AnswerNo   Answer = 1
	AnswerYes  Answer = 2
)

// Travel is a declared trip. A trip with a vehicle puts its traveller in
// contact with everyone whose trip shares that vehicle on the same local day
// (the channel "vehicle"), over the overlap of their [Depart, Arrive].
type Travel struct {
	Vehicle       string // normalised: upper case, no spaces (NormalizeVehicle)
	Depart        int64
	Arrive        int64
	OriginCountry string // ISO 3166-1 alpha-2 or alpha-3, upper case
	PortOfEntry   string
}

// Declaration is one health declaration (VHD for entrants, NCOVI for
// oneself and family). UserID filed it; SubjectID is whom it is about.
// Times are Unix seconds; Onset is the Unix time of the local midnight that
// begins the onset date, 0 when none was given.
//
// Records with equal SubjectID, DeclarationID and DeclaredAt are one
// declaration: a resend is stored and counted once (schemas/README.md).
type Declaration struct {
	DeclarationID string
	UserID        uint32
	SubjectID     uint32
	Kind          DeclKind
	DeclaredAt    int64
	Province      string
	Symptoms      Symptoms
	Onset         int64
	HasTravel     bool
	Travel        Travel
	// Exposure answers.
	ContactWithCase     Answer
	VisitedOutbreakArea Answer
	Source              string
}

// Symptomatic reports whether the declaration names a symptom.
func (d *Declaration) Symptomatic() bool { return d.Symptoms != 0 }

// OnsetDate is the onset as a local date YYYY-MM-DD, or "".
func (d *Declaration) OnsetDate() string {
	if d.Onset == 0 {
		return ""
	}
	return time.Unix(d.Onset, 0).In(localZone).Format(time.DateOnly)
}

// localZone is Asia/Ho_Chi_Minh, a fixed +07:00 (days of partitions and dates).
var localZone = time.FixedZone("ICT", 7*3600)

// Declaration bounds.
const (
	MaxTrip          = 48 * time.Hour      // arrive - depart must be below it
	MaxOnsetAge      = 60 * 24 * time.Hour // onset at most this long before declared_at
	MaxVehicleBytes  = 32                  // a normalised vehicle (a flight, a coach plate, a train)
	MaxPortBytes     = 64                  // port_of_entry
	MaxSymptomsInput = 32                  // entries of the symptoms array (duplicates allowed)
)

// NormalizeVehicle upper-cases v and removes its white space: "vn 123" and
// "VN123" are one vehicle.
func NormalizeVehicle(v string) string {
	return strings.ToUpper(strings.Join(strings.Fields(v), ""))
}

func validVehicle(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

func validCountry(c string) bool {
	if len(c) != 2 && len(c) != 3 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// ValidateDeclaration returns nil or a *ValidationError naming the first
// field at fault. A zero now skips the checks against the clock, as for
// ValidateVisit.
func (l *Limits) ValidateDeclaration(d *Declaration, now time.Time) error {
	if err := l.checkID("declaration_id", d.DeclarationID); err != nil {
		return err
	}
	if d.UserID == 0 {
		return invalid("user_id", ReasonMissingField, "missing or zero")
	}
	if d.SubjectID == 0 {
		return invalid("subject_id", ReasonMissingField, "missing or zero")
	}
	switch d.Kind {
	case DeclEntry, DeclDomestic, DeclVoluntary:
	case 0:
		return invalid("kind", ReasonMissingField, "missing")
	default:
		return invalid("kind", ReasonInvalidValue, "must be entry, domestic or voluntary")
	}
	if d.DeclaredAt == 0 {
		return invalid("declared_at", ReasonMissingField, "missing")
	}
	if err := l.checkTimes("declared_at", d.DeclaredAt, now); err != nil {
		return err
	}
	if d.Province == "" {
		return invalid("province", ReasonMissingField, "missing")
	}
	if _, err := province.Default().Lookup(d.Province); err != nil {
		return invalid("province", ReasonInvalidValue, "not a province code of the %s list", province.Current)
	}
	if d.Symptoms&^allSymptoms != 0 {
		return invalid("symptoms", ReasonInvalidValue, "unknown symptom")
	}
	if d.Onset != 0 {
		if (d.Onset+7*3600)%86400 != 0 {
			return invalid("onset", ReasonInvalidTime, "not a local date")
		}
		day := d.DeclaredAt - (d.DeclaredAt+7*3600)%86400 // local midnight of declared_at
		if d.Onset > day {
			return invalid("onset", ReasonInvalidTime, "after the day of declared_at")
		}
		if d.Onset < day-int64(MaxOnsetAge/time.Second) {
			return invalid("onset", ReasonInvalidTime, "more than %d days before declared_at", int(MaxOnsetAge/(24*time.Hour)))
		}
	}
	if d.HasTravel {
		if err := l.validateTravel(&d.Travel, now); err != nil {
			return err
		}
	}
	if d.ContactWithCase > AnswerYes {
		return invalid("exposure.contact_with_case", ReasonInvalidValue, "must be true or false")
	}
	if d.VisitedOutbreakArea > AnswerYes {
		return invalid("exposure.visited_outbreak_area", ReasonInvalidValue, "must be true or false")
	}
	if d.Source != "" && !validSource(d.Source) {
		return invalid("source", ReasonInvalidValue, "must be one of vhd, ncovi, bluezone, tokhaiyte")
	}
	return nil
}

func validSource(s string) bool {
	for _, x := range DeclSources {
		if x == s {
			return true
		}
	}
	return false
}

func (l *Limits) validateTravel(t *Travel, now time.Time) error {
	switch {
	case len(t.Vehicle) > MaxVehicleBytes:
		return invalid("travel.vehicle", ReasonTooLarge, "longer than %d bytes", MaxVehicleBytes)
	case t.Vehicle != NormalizeVehicle(t.Vehicle) || !validVehicle(t.Vehicle):
		return invalid("travel.vehicle", ReasonInvalidValue, "letters, digits, '-', '.' and '/' only")
	}
	if t.Depart == 0 {
		return invalid("travel.depart", ReasonMissingField, "missing")
	}
	if err := l.checkTimes("travel.depart", t.Depart, now); err != nil {
		return err
	}
	if t.Arrive == 0 {
		return invalid("travel.arrive", ReasonMissingField, "missing")
	}
	if t.Arrive <= t.Depart {
		return invalid("travel.arrive", ReasonInvalidTime, "not after depart")
	}
	if t.Arrive-t.Depart >= int64(MaxTrip/time.Second) {
		return invalid("travel.arrive", ReasonInvalidTime, "trip of %s or longer", MaxTrip)
	}
	if !now.IsZero() && t.Arrive > now.Add(l.MaxFuture).Unix() {
		return invalid("travel.arrive", ReasonFutureTime, "more than %s in the future", l.MaxFuture)
	}
	if t.OriginCountry != "" && !validCountry(t.OriginCountry) {
		return invalid("travel.origin_country", ReasonInvalidValue, "an ISO 3166-1 alpha-2 or alpha-3 code")
	}
	switch {
	case len(t.PortOfEntry) > MaxPortBytes:
		return invalid("travel.port_of_entry", ReasonTooLarge, "longer than %d bytes", MaxPortBytes)
	case !utf8.ValidString(t.PortOfEntry):
		return invalid("travel.port_of_entry", ReasonInvalidValue, "not valid UTF-8")
	}
	return nil
}

// DeclarationShard is the shard of a declaration: by subject, so all of a
// person's declarations meet in one worker.
func DeclarationShard(d *Declaration) uint16 { return uint16(mixShard(uint64(d.SubjectID)) % Shards) }
