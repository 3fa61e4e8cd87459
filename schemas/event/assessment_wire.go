package event

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/venue"
)

// Assessments travel in messages of their own kind (KindAssessment):
//
//	assessment = venue:uvarint day:uvarint version:uvarint submitted_at:uvarint
//	             tenths:uvarint level:1 assessment_id:string kind:string
//	             account:string answers:uvarint (item:string met:1)*answers
//
// level is the index of the level in checklist.Levels (0 green … 3 red);
// met is 0 or 1. Decoding checks the shape only; ValidateAssessment checks
// the answers against the checklist.

// AppendAssessmentsWire appends one message holding as.
func AppendAssessmentsWire(dst []byte, as []Assessment) []byte {
	dst = append(dst, WireMagic, WireVersion, byte(KindAssessment))
	dst = binary.AppendUvarint(dst, uint64(len(as)))
	for i := range as {
		dst = appendAssessmentWire(dst, &as[i])
	}
	return dst
}

func appendAssessmentWire(dst []byte, a *Assessment) []byte {
	dst = binary.AppendUvarint(dst, uint64(a.VenueID))
	dst = binary.AppendUvarint(dst, uint64(a.Day))
	dst = binary.AppendUvarint(dst, uint64(a.Version))
	dst = binary.AppendUvarint(dst, uint64(max(a.SubmittedAt, 0)))
	dst = binary.AppendUvarint(dst, uint64(a.Tenths))
	lvl := slices.Index(checklist.Levels(), a.Level)
	if lvl < 0 {
		lvl = 0xff
	}
	dst = append(dst, byte(lvl))
	dst = appendWireString(dst, a.AssessmentID)
	dst = appendWireString(dst, string(a.Kind))
	dst = appendWireString(dst, a.Account)
	dst = binary.AppendUvarint(dst, uint64(len(a.Answers)))
	for _, x := range a.Answers {
		dst = appendWireString(dst, x.Item)
		if x.Met {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	}
	return dst
}

// maxWireAnswers bounds the answers a record may claim.
const maxWireAnswers = checklist.MaxItems

func (r *wireReader) byte(field string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail(field, "truncated")
		return 0
	}
	b := r.b[0]
	r.b = r.b[1:]
	return b
}

// assessment reads one assessment record.
func (r *wireReader) assessment() Assessment {
	var a Assessment
	a.VenueID = r.uint32("venue_id")
	a.Day = r.uint32("date")
	a.Version = r.uint32("version")
	a.SubmittedAt = r.time("submitted_at")
	if t := r.uvarint("score"); t > checklist.MaxTenths {
		r.fail("score", "out of range")
	} else {
		a.Tenths = uint16(t)
	}
	if lvl := int(r.byte("level")); r.err == nil {
		levels := checklist.Levels()
		if lvl >= len(levels) {
			r.fail("level", fmt.Sprintf("unknown level %d", lvl))
		} else {
			a.Level = levels[lvl]
		}
	}
	a.AssessmentID = r.string("assessment_id")
	a.Kind = venue.Kind(r.string("kind"))
	a.Account = r.string("account")
	n := r.uvarint("answers")
	if r.err == nil && (n > maxWireAnswers || n > uint64(len(r.b))/2) {
		r.fail("answers", fmt.Sprintf("%d answers cannot fit", n))
	}
	if r.err != nil {
		return a
	}
	a.Answers = make([]ItemAnswer, 0, n)
	for range n {
		item := r.string("answers")
		met := r.byte("answers")
		if r.err == nil && met > 1 {
			r.fail("answers", "met is neither 0 nor 1")
		}
		if r.err != nil {
			return a
		}
		a.Answers = append(a.Answers, ItemAnswer{Item: item, Met: met == 1})
	}
	return a
}
