package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Subjects of the follow-up stream: a schedule waits on
// "passerelle.followup.sched.<kind>.<key>" and, when due, the server publishes it on
// "passerelle.followup.due.<kind>.<key>", where the kind's consumer takes it.
const (
	followUpSchedPrefix = "passerelle.followup.sched."
	followUpDuePrefix   = "passerelle.followup.due."
)

// DueSubjects returns the subject filter of the follow-ups of kind that are due.
func DueSubjects(kind string) string { return followUpDuePrefix + kind + ".>" }

// Scheduler plans follow-ups with JetStream message schedules: the plan is stored in
// the follow-up stream (it survives restarts, is shared by every replica and costs no
// CPU while it waits), and each key has at most one plan, since a new schedule for the
// same key replaces the previous one.
type Scheduler struct {
	js jetstream.JetStream
}

// NewScheduler returns a scheduler publishing through js.
func NewScheduler(js jetstream.JetStream) *Scheduler { return &Scheduler{js: js} }

// At plans a follow-up of kind for key at time at (to the second; a time in the past
// is due at once), carrying header and body. It replaces any earlier plan for the same
// kind and key. kind and key must be valid subject tokens (see Key).
func (s *Scheduler) At(ctx context.Context, kind, key string, at time.Time, header nats.Header, body []byte) error {
	msg := &nats.Msg{Subject: followUpSchedPrefix + kind + "." + key, Header: nats.Header{}, Data: body}
	for k, vs := range header {
		msg.Header[k] = vs
	}
	if now := time.Now(); at.Before(now) {
		at = now
	}
	// The schedule is written to the second, rounded up so that it never fires early.
	at = at.Truncate(time.Second).Add(time.Second)
	_, err := s.js.PublishMsg(ctx, msg, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(followUpDuePrefix+kind+"."+key))
	if err != nil {
		return fmt.Errorf("runtime: schedule %s %s at %s: %w", kind, key, at.Format(time.RFC3339), err)
	}
	return nil
}

// Planned reports whether a follow-up of kind for key is planned or due (delivered
// and not yet acknowledged), so that a replica starting up does not plan a second one.
func (s *Scheduler) Planned(ctx context.Context, kind, key string) (bool, error) {
	st, err := s.js.Stream(ctx, StreamFollowUps)
	if err != nil {
		return false, fmt.Errorf("runtime: follow-up stream: %w", err)
	}
	for _, subject := range []string{followUpSchedPrefix + kind + "." + key, followUpDuePrefix + kind + "." + key} {
		_, err := st.GetLastMsgForSubject(ctx, subject)
		switch {
		case err == nil:
			return true, nil
		case !errors.Is(err, jetstream.ErrMsgNotFound):
			return false, fmt.Errorf("runtime: look for %s: %w", subject, err)
		}
	}
	return false, nil
}

// DueKey returns the key of a due follow-up from its subject, for a consumer of kind.
func DueKey(kind, subject string) (string, bool) {
	prefix := followUpDuePrefix + kind + "."
	if len(subject) <= len(prefix) || subject[:len(prefix)] != prefix {
		return "", false
	}
	return subject[len(prefix):], true
}
