package audit

import (
	"sync/atomic"
	"time"
)

// A stamp is one second of event times as time.RFC3339Nano writes it: the
// date and clock ("2006-01-02T15:04:05") and the zone ("Z" or "-07:00").
// Events come many to a second, so writeEvent formats a second once and
// then appends only the fraction.
type stamp struct {
	sec  int64          // t.Unix()
	loc  *time.Location // t.Location()
	head [len("2006-01-02T15:04:05")]byte
	zone string
}

// lastStamp is the second of the latest event written.
var lastStamp atomic.Pointer[stamp]

// stampFor returns the stamp of t's second, or nil when t's year is outside
// [0, 9999]: slog then writes an error along with the time, and the event
// must take slog's path.
func stampFor(t time.Time) *stamp {
	sec, loc := t.Unix(), t.Location()
	if s := lastStamp.Load(); s != nil && s.sec == sec && s.loc == loc {
		return s
	}
	if y := t.Year(); y < 0 || y >= 10000 {
		return nil
	}
	// A zone's offset changes on a whole second, so every instant of
	// this second has the offset of its first.
	whole := time.Unix(sec, 0).In(loc).AppendFormat(nil, time.RFC3339Nano)
	s := &stamp{sec: sec, loc: loc, zone: string(whole[len(stamp{}.head):])}
	copy(s.head[:], whole)
	lastStamp.Store(s)
	return s
}

// append appends t, which must be in s's second, as
// t.AppendFormat(b, time.RFC3339Nano) does: the fraction of the second has
// no trailing zeros, and none at all when it is zero.
func (s *stamp) append(b []byte, t time.Time) []byte {
	b = append(b, s.head[:]...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, s.zone...)
}
