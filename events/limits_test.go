package events_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/passerelle-dev/passerelle/events"
)

func TestClip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijkl", 10, "abc…ijkl"},
		{"ééééééé", 9, "é…é"}, // never cuts a rune in two
		{"abc", 0, "…"},
	} {
		got := events.Clip(tc.in, tc.n)
		if got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
		if !utf8.ValidString(got) || len(got) > max(tc.n, len("…")) {
			t.Errorf("Clip(%q, %d) = %q: invalid UTF-8 or over the bound", tc.in, tc.n, got)
		}
	}
	msg := "'" + strings.Repeat("<", 1<<20) + "' does not match pattern '^[0-9]{14}$'"
	got := events.Clip(msg, events.MaxProblemBytes)
	if len(got) > events.MaxProblemBytes || !strings.HasSuffix(got, "' does not match pattern '^[0-9]{14}$'") {
		t.Errorf("clipped to %d bytes %q, want at most %d ending with what the message says", len(got), got, events.MaxProblemBytes)
	}
}
