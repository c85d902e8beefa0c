// Package seed makes large, deterministic sets of patients for benchmarks
// and load tests, and stores them in bulk.
package seed

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/civil"
)

var firstNames = []string{
	"Ada", "Alan", "Alice", "Amelia", "Anna", "Arthur", "Ben", "Carla", "Carlos", "Chen", "Chloe", "Daniel", "David",
	"Elena", "Elif", "Emma", "Ethan", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines", "Isaac", "Jack", "James",
	"Jana", "John", "Jonas", "Julia", "Kai", "Karim", "Laura", "Leo", "Lina", "Lucas", "Maria", "Mateo", "Mia", "Noah",
	"Nora", "Olga", "Omar", "Paul", "Priya", "Rosa", "Sara", "Sofia", "Tom", "Yuki", "Zoe", "Zeynep",
}

// Last names are built from syllables, so that prefixes are spread the way
// real surnames are: a few letters narrow thousands down to tens.
var (
	syl1 = []string{"Ab", "Bar", "Ber", "Bra", "Car", "Dal", "Dor", "El", "Fal", "Gar", "Hal", "Har", "Jo", "Kal", "Kor",
		"Lan", "Mar", "Mor", "Nor", "Ol", "Pal", "Ram", "Ros", "Sal", "Sch", "Smi", "Stan", "Tal", "Ven", "Wal", "Win", "Zim"}
	syl2 = []string{"", "a", "an", "en", "er", "i", "in", "o", "on", "u", "ber", "den", "dor", "ford", "ley", "man"}
	syl3 = []string{"", "s", "son", "th", "ton", "ez", "ini", "ova", "ski", "berg", "field", "wood"}
)

// Patients returns n patients generated from seed; the same arguments give
// the same patients, IDs included.
func Patients(n int, seed uint64) []patient.Patient {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]patient.Patient, n)
	for i := range out {
		first := firstNames[rng.IntN(len(firstNames))]
		last := syl1[rng.IntN(len(syl1))] + syl2[rng.IntN(len(syl2))] + syl3[rng.IntN(len(syl3))]
		created := base.Add(time.Duration(i) * time.Second)
		out[i] = patient.Patient{
			ID:     deterministicV7(created, rng),
			UserID: deterministicV7(created, rng),
			Profile: patient.Profile{
				FirstName: first, LastName: last,
				DateOfBirth: civil.Of(time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(33000))),
				Sex:         []patient.Sex{patient.SexFemale, patient.SexMale, patient.SexOther, patient.SexUnknown}[rng.IntN(4)],
				Email:       fmt.Sprintf("%s.%s.%d@example.org", first, last, i),
				Phone:       fmt.Sprintf("+4930%08d", rng.IntN(100000000)),
				Address: patient.Address{Line1: fmt.Sprintf("%d Main Street", 1+rng.IntN(200)), City: "Berlin",
					PostalCode: fmt.Sprintf("%05d", rng.IntN(100000)), Country: "DE"},
				PreferredLanguage: "en",
				BloodType:         []string{"A+", "A-", "B+", "O+", "O-", "AB+"}[rng.IntN(6)],
			},
			Active: true, Version: 1, CreatedAt: created, UpdatedAt: created,
		}
	}
	return out
}

// deterministicV7 builds a UUID v7 for instant t with random bits from rng.
func deterministicV7(t time.Time, rng *rand.Rand) string {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint64(u[8:], rng.Uint64())
	binary.BigEndian.PutUint16(u[6:], uint16(rng.Uint32()))
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | (u[6] & 0x0f)
	u[8] = 0x80 | (u[8] & 0x3f)
	return u.String()
}

// Ensure stores the n patients of seed unless the store already holds
// exactly n patients (a previous run's); it returns the patients.
func Ensure(ctx context.Context, s *sqlstore.Store, n int, seed uint64) ([]patient.Patient, bool, error) {
	ps := Patients(n, seed)
	have, err := s.CountPatients(ctx)
	if err != nil {
		return nil, false, err
	}
	if have == n {
		if _, err := s.PatientByID(ctx, ps[n-1].ID); err == nil {
			return ps, false, nil
		}
	}
	if have != 0 {
		return nil, false, fmt.Errorf("the database holds %d other patients; use an empty database", have)
	}
	const tx = 5000 // rows per transaction, each of multi-row INSERTs
	for i := 0; i < n; i += tx {
		if err := s.BulkInsertPatients(ctx, ps[i:min(i+tx, n)]); err != nil {
			return nil, false, err
		}
	}
	return ps, true, nil
}
