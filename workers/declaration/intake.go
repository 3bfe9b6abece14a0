package declaration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/intake"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// problem returns the invalid-input error of one problem of a declaration.submit.
func problem(location, message string) error {
	return intake.Problem(events.TypeDeclarationSubmit, location, message)
}

// intakeHandler handles declaration.submit events.
type intakeHandler struct{ f *Flow }

// invalidFile is a declaration file that breaks the checks.
type invalidFile struct {
	identity events.DeclarationIdentity
	problems pasrau.Problems
}

func (e *invalidFile) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the declaration file has %d problem(s)", len(e.problems))
	for i, p := range e.problems {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.problems)-5)
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

// conflictError: the declaration's identity is taken by another submission.
type conflictError struct {
	identity events.DeclarationIdentity
	other    string
}

func (e *conflictError) Error() string {
	return fmt.Sprintf("%s was already submitted with another file by event %s", describe(e.identity), e.other)
}

// describe names a declaration for people.
func describe(id events.DeclarationIdentity) string {
	return fmt.Sprintf("declaration %s %s (nature %s, type %s, fraction %s)", id.SIRET, id.Month, id.Nature, id.Type, id.Fraction)
}

// Prepare decodes the CloudEvent so that the process span continues its trace context
// and starts with its attributes.
func (h *intakeHandler) Prepare(ctx context.Context, d *runtime.Delivery) (context.Context, []attribute.KeyValue) {
	return intake.Prepare(ctx, d)
}

// Handle checks the event and its file, then deposits the declaration.
func (h *intakeHandler) Handle(ctx context.Context, d *runtime.Delivery) error {
	f := h.f
	n := intake.Decode(ctx, d)
	var sub events.DeclarationSubmit
	if err := n.Check(ctx, events.TypeDeclarationSubmit, f.deps.Schemas, &sub); err != nil {
		return err
	}
	e := n.Event
	acct, ok := f.deps.Accounts.PASRAU(sub.Account)
	if !ok {
		return runtime.Invalid(problem("/account", fmt.Sprintf("account %q is not configured for PASRAU", sub.Account)))
	}
	raw, enc, err := f.readFile(ctx, &sub.File)
	if err != nil {
		return err
	}
	decl, problems := pasrau.Validate(raw, enc)
	if len(problems) > 0 {
		return runtime.Invalid(&invalidFile{identity: identityOf(decl), problems: problems})
	}
	latin1, err := pasrau.ToLatin1(raw, enc)
	if err != nil {
		return runtime.Invalid(&invalidFile{identity: identityOf(decl), problems: pasrau.Problems{{Code: pasrau.ProblemEncoding, Message: err.Error()}}})
	}
	sum := sha256.Sum256(latin1)
	s := &submission{
		id: e.ID(), acct: acct, identity: identityOf(decl), file: latin1, hash: hex.EncodeToString(sum[:]),
		replay: d.Header.Get(runtime.HeaderReplay) != "",
	}
	s.first = d.Delivered == 1 && !s.replay
	s.key = ledgerKey(s.identity)
	n.Key = s.key
	return f.submit(ctx, s)
}

// readFile returns the file's bytes and their encoding.
func (f *Flow) readFile(ctx context.Context, file *events.DeclarationFile) ([]byte, pasrau.Encoding, error) {
	enc := pasrau.UTF8
	if file.Encoding == events.EncodingLatin1 {
		enc = pasrau.Latin1
	}
	var raw []byte
	switch {
	case file.Text != "":
		raw, enc = []byte(file.Text), pasrau.UTF8
	case file.Object != nil:
		b, err := events.ReadObject(ctx, f.deps.Documents, file.Object, f.cfg.MaxFileSize)
		var oe *events.ObjectError
		if errors.As(err, &oe) {
			return nil, 0, runtime.Invalid(problem("/file/object/"+oe.Field, oe.Reason))
		}
		if err != nil {
			return nil, 0, runtime.Retry(err, 0)
		}
		raw = b
	default:
		b, err := base64.StdEncoding.DecodeString(file.Content)
		if err != nil {
			return nil, 0, runtime.Invalid(problem("/file/content", "not valid base64: "+err.Error()))
		}
		raw = b
	}
	if int64(len(raw)) > f.cfg.MaxFileSize {
		return nil, 0, runtime.Invalid(problem("/file", fmt.Sprintf("the file has %d bytes, more than the %d allowed", len(raw), f.cfg.MaxFileSize)))
	}
	return raw, enc, nil
}

// Answer publishes the status of an event the runtime ended: invalid for a file
// that breaks the checks, rejected or conflict for other bad input, failed (or
// unknown, or deposited after a last look) when deliveries ran out.
func (h *intakeHandler) Answer(ctx context.Context, d *runtime.Delivery, end runtime.End) error {
	f := h.f
	if !intake.Answerable(end) {
		return nil // the dead letter says why
	}
	n := intake.Decode(ctx, d)
	account := n.Account()
	if account == "" {
		return nil
	}
	if end.Kind == runtime.EndFailed {
		if acct, ok := f.deps.Accounts.PASRAU(account); ok {
			if ans, err := f.giveUp(ctx, n.Event.ID(), n.Key, acct, end); err != nil || ans {
				return err
			}
		}
	}
	r := &record{SubmitID: n.Event.ID(), Account: account}
	s := events.DeclarationStatus{State: events.StateRejected, Final: true, Rejection: intake.Rejection(end.Err)}
	var inv *invalidFile
	var ce *conflictError
	switch {
	case end.Kind == runtime.EndFailed:
		s = events.DeclarationStatus{State: events.StateFailed, Final: true, Failure: intake.Failure(end)}
	case errors.As(end.Err, &inv):
		r.Identity = inv.identity
		s.State = events.StateInvalid
		s.Rejection = &events.Rejection{Source: "passerelle", Reason: "the declaration file breaks the norm's checks: it was not deposited"}
		s.Problems = fileProblems(inv.problems)
	case errors.As(end.Err, &ce):
		r.Identity = ce.identity
		s.State = events.StateConflict
		s.Rejection = &events.Rejection{Source: "passerelle", Reason: ce.Error()}
	}
	r.addStatus(s, f.now())
	return f.flush(ctx, r)
}

// fileProblems returns the problems a status event lists: the first
// events.MaxProblems (the last saying how many more there were; `passerelle
// validate` lists them all), each message clipped.
func fileProblems(ps pasrau.Problems) []events.FileProblem {
	out := make([]events.FileProblem, 0, min(len(ps), events.MaxProblems))
	for i, p := range ps {
		if i == events.MaxProblems-1 && len(ps) > events.MaxProblems {
			more := ps.Count() - i
			out = append(out, events.FileProblem{Code: string(pasrau.ProblemTruncated),
				Message: fmt.Sprintf("%d more problem(s) not listed; `passerelle validate` lists them", more)})
			break
		}
		out = append(out, events.FileProblem{Line: p.Line, Rubric: p.Rubric, Code: string(p.Code), Message: events.Clip(p.Message, events.MaxProblemBytes)})
	}
	return out
}
