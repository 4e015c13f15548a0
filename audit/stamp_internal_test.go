package audit

import (
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // zones with daylight saving time on any machine
)

// TestStampMatchesAppendFormat: the cached second and the appended fraction
// write what t.Round(0).AppendFormat(b, time.RFC3339Nano) writes (slog's
// JSON handler), in any zone, across daylight saving changes, before 1970,
// and for seconds seen before or not.
func TestStampMatchesAppendFormat(t *testing.T) {
	var zones []*time.Location
	for _, name := range []string{"UTC", "Local", "America/New_York", "Europe/Paris", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, loc)
	}
	zones = append(zones, time.FixedZone("odd", -(3*3600+25*60+7)), time.FixedZone("zero", 0))

	check := func(tm time.Time) {
		t.Helper()
		s := stampFor(tm)
		if s == nil {
			t.Fatalf("%v: no stamp", tm)
		}
		got := string(s.append([]byte("x"), tm))
		want := "x" + string(tm.Round(0).AppendFormat(nil, time.RFC3339Nano))
		if got != want {
			t.Fatalf("%d.%09d in %v: got %q, want %q", tm.Unix(), tm.Nanosecond(), tm.Location(), got, want)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	nanos := func() int64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return r.Int64N(1000) * 1_000_000 // milliseconds: trailing zeros
		default:
			return r.Int64N(1_000_000_000)
		}
	}
	// Seconds around 2026's daylight saving changes in New York and Paris,
	// and others from 1900 to 2200.
	changes := []int64{1772953200, 1774746000, 1793512800, 1792890000}
	for range 50_000 {
		var sec int64
		if r.IntN(2) == 0 {
			sec = changes[r.IntN(len(changes))] + r.Int64N(7201) - 3600
		} else {
			sec = r.Int64N(7_258_118_400+2_208_988_800) - 2_208_988_800
		}
		tm := time.Unix(sec, nanos()).In(zones[r.IntN(len(zones))])
		check(tm)
		check(tm.Add(time.Duration(r.Int64N(int64(time.Second))))) // often the same second again
	}
	// One instant in every zone in turn: the cache holds a second of one
	// zone only.
	for _, sec := range changes {
		for _, loc := range zones {
			check(time.Unix(sec, 120_000_000).In(loc))
		}
	}
	check(time.Now())
	check(time.Now()) // with its monotonic reading, from the cache
	for _, y := range []int{-1, 10000} {
		if s := stampFor(time.Date(y, 6, 1, 0, 0, 0, 0, time.UTC)); s != nil {
			t.Errorf("year %d: a stamp", y)
		}
	}
}
