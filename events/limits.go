package events

import "unicode/utf8"

// Bounds on what a status event repeats of the input it answers, so that the
// answer to any input, however large or hostile, stays far below the server's
// maximum payload (1 MiB by default): a value quoted in an error message is
// clipped, and a list of problems keeps its first ones and says how many more
// there were.
const (
	// MaxReasonBytes bounds a rejection's or failure's reason.
	MaxReasonBytes = 2000
	// MaxProblemBytes bounds a problem's message or location.
	MaxProblemBytes = 300
	// MaxProblems bounds a rejection's list of problems.
	MaxProblems = 100
)

// Clip returns s cut to at most n bytes: its beginning and its end, on rune
// boundaries, joined by "…" where the middle was cut out (a message quoting a long
// value keeps what it says after the quote).
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	keep := max(n-len(ellipsis), 0)
	head, tail := keep/2, len(s)-(keep-keep/2)
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + ellipsis + s[tail:]
}
