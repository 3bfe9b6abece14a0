package pasrau

import (
	"fmt"
	"time"
	_ "time/tzdata" // Europe/Paris must be known even in a minimal image.
)

// timeLayout is PASRAU's yyyyMMddHHmmss, without a zone.
const timeLayout = "20060102150405"

// parisZone is the zone PASRAU's zone-less times are read in by default.
const parisZone = "Europe/Paris"

// Paris returns the Europe/Paris location, PASRAU's default time zone. It
// cannot fail: the package embeds the time zone database.
func Paris() *time.Location {
	loc, err := time.LoadLocation(parisZone)
	if err != nil { // unreachable with time/tzdata embedded
		return time.UTC
	}
	return loc
}

// FormatTime formats t as yyyyMMddHHmmss in loc (Paris when loc is nil).
func FormatTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = Paris()
	}
	return t.In(loc).Format(timeLayout)
}

// ParseTime parses a yyyyMMddHHmmss time as wall-clock time in loc (Paris when
// loc is nil). It returns an error when s is not 14 digits forming a valid
// date and time.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = Paris()
	}
	if len(s) != len(timeLayout) || !allDigits([]byte(s)) {
		return time.Time{}, fmt.Errorf("pasrau: time %q is not yyyyMMddHHmmss", s)
	}
	t, err := time.ParseInLocation(timeLayout, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("pasrau: time %q: %w", s, err)
	}
	return t, nil
}
