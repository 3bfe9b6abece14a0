package choruspro

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, value string
		want        time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "7", 7 * time.Second},
		{"spaces", " 3 ", 3 * time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"huge", "99999999999", 365 * 24 * time.Hour},
		{"HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"past date", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"garbage", "soon", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := parseRetryAfter(tc.value, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q): got %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}

func TestPasswordExpired(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want bool
	}{
		{`Bearer realm="PISTE",error="Unauthorized",error_description="technical account password expired"`, true},
		{"Mot de passe du compte technique expiré", true},
		{`Bearer error="invalid_token",error_description="access token expired"`, false},
		{"login or password incorrects", false},
	} {
		if got := passwordExpired(tc.text); got != tc.want {
			t.Errorf("passwordExpired(%q): got %t, want %t", tc.text, got, tc.want)
		}
	}
}
