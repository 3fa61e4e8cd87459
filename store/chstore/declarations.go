package chstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/declapi"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

var _ declapi.Store = (*Store)(nil)

const declColumns = "day, subject, declared_at, declaration_id, user, kind, province, symptoms, onset, has_travel, vehicle, depart, arrive, origin_country, port_of_entry, contact_with_case, visited_outbreak_area, source"

// writeDeclarations inserts ds into declarations (whose materialised view
// keeps declaration_counts) and their trips into declaration_trips.
func (s *Store) writeDeclarations(ctx context.Context, ds []event.Declaration) error {
	n := len(ds)
	day, subject, user := make([]uint32, n), make([]uint32, n), make([]uint32, n)
	at, onset, depart, arrive := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	id, prov, vehicle, origin, port, source := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	kind, travel, cwc, voa := make([]uint8, n), make([]uint8, n), make([]uint8, n), make([]uint8, n)
	symptoms := make([]uint16, n)
	var tDay, tSubject []uint32
	var tVehicle []string
	var tDepart, tArrive []int64
	bytes := 0
	for i := range ds {
		d := &ds[i]
		day[i], subject[i], at[i], id[i], user[i] = uint32(bucket.DayOf(d.DeclaredAt)), d.SubjectID, d.DeclaredAt, d.DeclarationID, d.UserID
		kind[i], prov[i], symptoms[i], onset[i] = uint8(d.Kind), d.Province, uint16(d.Symptoms), d.Onset
		if d.HasTravel {
			t := &d.Travel
			travel[i], vehicle[i], depart[i], arrive[i], origin[i], port[i] = 1, t.Vehicle, t.Depart, t.Arrive, t.OriginCountry, t.PortOfEntry
			if t.Vehicle != "" {
				tDay, tVehicle = append(tDay, uint32(bucket.DayOf(t.Depart))), append(tVehicle, t.Vehicle)
				tDepart, tArrive, tSubject = append(tDepart, t.Depart), append(tArrive, t.Arrive), append(tSubject, d.SubjectID)
			}
		}
		cwc[i], voa[i], source[i] = uint8(d.ContactWithCase), uint8(d.VisitedOutbreakArea), d.Source
		bytes += 60 + len(d.DeclarationID) + len(d.Travel.Vehicle) + len(d.Travel.PortOfEntry) + len(d.Source)
	}
	if len(tDay) > 0 {
		// Trips first: a replay after a failure in between writes both again.
		if err := s.insert(ctx, "declaration_trips", "day, vehicle, depart, arrive, subject", len(tDay), 30*len(tDay),
			tDay, tVehicle, tDepart, tArrive, tSubject); err != nil {
			return err
		}
	}
	return s.insert(ctx, "declarations", declColumns, n, bytes,
		day, subject, at, id, user, kind, prov, symptoms, onset, travel, vehicle, depart, arrive, origin, port, cwc, voa, source)
}

// Declarations implements declapi.Store.
func (s *Store) Declarations(ctx context.Context, subjects []uint32, from, to int64) ([]event.Declaration, error) {
	if from > to || len(subjects) == 0 {
		return nil, nil
	}
	var days strings.Builder
	for d := bucket.DayOf(from); d <= bucket.DayOf(to); d++ {
		if days.Len() > 0 {
			days.WriteByte(',')
		}
		days.WriteString(strconv.FormatUint(uint64(d), 10))
	}
	var out []event.Declaration
	for chunk := range slices.Chunk(subjects, usersPerQuery) {
		start := time.Now()
		rows, err := s.conn.Query(ctx, "SELECT "+declColumns+" FROM "+s.db+".declarations WHERE day IN ("+days.String()+
			") AND subject IN ("+idList(chunk)+") AND declared_at >= "+strconv.FormatInt(from, 10)+" AND declared_at <= "+strconv.FormatInt(to, 10)+
			" ORDER BY subject, declared_at, declaration_id LIMIT 1 BY subject, declared_at, declaration_id")
		if err != nil {
			s.m.errors.WithLabelValues("declarations").Inc()
			return nil, unavailable("read declarations", err)
		}
		for rows.Next() {
			var d event.Declaration
			var day uint32
			var kind, travel, cwc, voa uint8
			var symptoms uint16
			if err := rows.Scan(&day, &d.SubjectID, &d.DeclaredAt, &d.DeclarationID, &d.UserID, &kind, &d.Province, &symptoms, &d.Onset,
				&travel, &d.Travel.Vehicle, &d.Travel.Depart, &d.Travel.Arrive, &d.Travel.OriginCountry, &d.Travel.PortOfEntry,
				&cwc, &voa, &d.Source); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("scan declaration: %w", err)
			}
			d.Kind, d.Symptoms, d.HasTravel = event.DeclKind(kind), event.Symptoms(symptoms), travel == 1
			d.ContactWithCase, d.VisitedOutbreakArea = event.Answer(cwc), event.Answer(voa)
			out = append(out, d)
		}
		err = rows.Err()
		_ = rows.Close()
		s.m.query.WithLabelValues("declarations").Observe(time.Since(start).Seconds())
		if err != nil {
			return nil, unavailable("read declarations", err)
		}
	}
	return out, nil
}

// DeclarationCounts implements declapi.Store from declaration_counts, which
// the materialised view fills as declarations are inserted.
func (s *Store) DeclarationCounts(ctx context.Context, provinces []string, from, to bucket.Day) ([]declapi.Count, error) {
	if from > to {
		return nil, nil
	}
	q := "SELECT day, province, kind, symptomatic, uniqExactMerge(ids) FROM " + s.db + ".declaration_counts WHERE day >= " +
		strconv.FormatUint(uint64(from), 10) + " AND day <= " + strconv.FormatUint(uint64(to), 10)
	if provinces != nil {
		// Codes are two digits; anything else matches no row.
		var list []string
		for _, p := range provinces {
			if len(p) == 2 && p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' {
				list = append(list, "'"+p+"'")
			}
		}
		if len(list) == 0 {
			return nil, nil
		}
		q += " AND province IN (" + strings.Join(list, ",") + ")"
	}
	q += " GROUP BY day, province, kind, symptomatic"
	start := time.Now()
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		s.m.errors.WithLabelValues("declaration_counts").Inc()
		return nil, unavailable("read declaration counts", err)
	}
	defer func() { _ = rows.Close() }()
	var out []declapi.Count
	for rows.Next() {
		var c declapi.Count
		var day uint32
		var kind, symp uint8
		var n uint64
		if err := rows.Scan(&day, &c.Province, &kind, &symp, &n); err != nil {
			return nil, fmt.Errorf("scan declaration count: %w", err)
		}
		c.Day, c.Kind, c.Symptomatic, c.N = bucket.Day(day), event.DeclKind(kind), symp == 1, int64(n)
		out = append(out, c)
	}
	s.m.query.WithLabelValues("declaration_counts").Observe(time.Since(start).Seconds())
	return out, rows.Err()
}

var _ graph.TripStore = (*Store)(nil)

// dayRangeList is the SQL list of the local days from a to b.
func dayRangeList(a, b bucket.Day) string {
	var sb strings.Builder
	for d := a; d <= b; d++ {
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(uint64(d), 10))
	}
	return sb.String()
}

// UserTrips implements graph.TripStore: the trips of users in the day
// partitions that may hold trips overlapping w.
func (s *Store) UserTrips(ctx context.Context, users []uint32, w graph.Window) ([]graph.Trip, error) {
	days := dayRangeList(bucket.DayOf(w.From-int64(event.MaxTrip/time.Second)), bucket.DayOf(w.To))
	var out []graph.Trip
	for chunk := range slices.Chunk(users, usersPerQuery) {
		got, err := s.trips(ctx, "SELECT DISTINCT day, vehicle, depart, arrive, subject FROM "+s.db+".declaration_trips WHERE day IN ("+days+
			") AND subject IN ("+idList(chunk)+") AND arrive > "+strconv.FormatInt(w.From, 10)+" AND depart < "+strconv.FormatInt(w.To, 10))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// VehicleTrips implements graph.TripStore: one read of the vehicles' rows
// in their days' partitions.
func (s *Store) VehicleTrips(ctx context.Context, vehicles []graph.VehicleDay) ([]graph.Trip, error) {
	want := map[graph.VehicleDay]bool{}
	var days []bucket.Day
	var names []string
	for _, vd := range vehicles {
		if !plainVehicle(vd.Vehicle) {
			continue // not a normalised vehicle: no trip has it
		}
		want[vd] = true
		days = append(days, vd.Day)
		names = append(names, "'"+vd.Vehicle+"'")
	}
	if len(want) == 0 {
		return nil, nil
	}
	var dl []string
	for _, d := range sortDays(days) {
		dl = append(dl, strconv.FormatUint(uint64(d), 10))
	}
	slices.Sort(names)
	got, err := s.trips(ctx, "SELECT DISTINCT day, vehicle, depart, arrive, subject FROM "+s.db+".declaration_trips WHERE day IN ("+
		strings.Join(dl, ",")+") AND vehicle IN ("+strings.Join(slices.Compact(names), ",")+")")
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(got, func(t graph.Trip) bool { return !want[graph.VehicleDay{Vehicle: t.Vehicle, Day: t.Day}] }), nil
}

// plainVehicle reports whether v is a normalised vehicle, safe to quote.
func plainVehicle(v string) bool {
	if v == "" || len(v) > event.MaxVehicleBytes {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

func (s *Store) trips(ctx context.Context, q string) ([]graph.Trip, error) {
	start := time.Now()
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		s.m.errors.WithLabelValues("declaration_trips").Inc()
		return nil, unavailable("read trips", err)
	}
	defer func() { _ = rows.Close() }()
	var out []graph.Trip
	for rows.Next() {
		var t graph.Trip
		var day uint32
		if err := rows.Scan(&day, &t.Vehicle, &t.Start, &t.End, &t.Subject); err != nil {
			return nil, fmt.Errorf("scan trip: %w", err)
		}
		t.Day = bucket.Day(day)
		out = append(out, t)
	}
	s.m.query.WithLabelValues("declaration_trips").Observe(time.Since(start).Seconds())
	return out, rows.Err()
}
