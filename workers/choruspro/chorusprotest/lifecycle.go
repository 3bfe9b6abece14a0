package chorusprotest

import (
	"strings"
	"time"
)

// Invoice statuses the emulator produces.
const (
	statusDeposee             = "DEPOSEE"
	statusEnCoursAcheminement = "EN_COURS_ACHEMINEMENT"
	statusMiseADisposition    = "MISE_A_DISPOSITION"
	statusPriseEnCompte       = "PRISE_EN_COMPTE_DESTINATAIRE"
	statusServiceFait         = "SERVICE_FAIT"
	statusMandatee            = "MANDATEE"
	statusMiseEnPaiement      = "MISE_EN_PAIEMENT"
	statusSuspendue           = "SUSPENDUE"
	statusCompletee           = "COMPLETEE"
	statusARecycler           = "A_RECYCLER"
	statusRejetee             = "REJETEE"
	statusAbandonnee          = "ABANDONNEE"
)

// Flow states the emulator produces.
const (
	flowRecu             = "IN_RECU"
	flowEnAttente        = "IN_EN_ATTENTE_TRAITEMENT_CPP"
	flowEnCours          = "IN_EN_COURS_TRAITEMENT_CPP"
	flowIntegre          = "IN_INTEGRE"
	flowIntegrePartiel   = "IN_INTEGRE_PARTIEL"
	flowRejete           = "IN_REJETE"
	flowStepsBeforeFinal = 3 // IN_RECU, IN_EN_ATTENTE..., IN_EN_COURS... then final
)

// planStep is one status of an invoice's planned lifecycle.
type planStep struct {
	status  string
	comment string
}

// Comments of the branch statuses.
const (
	commentRejetee    = "Facture rejetée par le destinataire : motif de rejet simulé par l'émulateur"
	commentSuspendue  = "Facture suspendue : pièce justificative manquante (simulé par l'émulateur)"
	commentCompletee  = "Facture complétée par le fournisseur (simulé par l'émulateur)"
	commentARecycler  = "Facture à recycler : destinataire ou service à corriger (simulé par l'émulateur)"
	commentAbandonnee = "Facture abandonnée par le fournisseur (simulé par l'émulateur)"
)

// planFor chooses an invoice's lifecycle from its number and comment: the
// first of the keywords REJETEE, ABANDONNEE, A_RECYCLER, SUSPENDUE found in
// either (case-insensitive) picks a branch; otherwise the invoice goes all
// the way to MISE_EN_PAIEMENT.
func planFor(texts ...string) []planStep {
	joined := strings.ToUpper(strings.Join(texts, " "))
	s := func(status string) planStep { return planStep{status: status} }
	switch {
	case strings.Contains(joined, statusRejetee):
		return []planStep{s(statusDeposee), s(statusEnCoursAcheminement), s(statusMiseADisposition),
			{statusRejetee, commentRejetee}}
	case strings.Contains(joined, statusAbandonnee):
		return []planStep{s(statusDeposee), s(statusEnCoursAcheminement), {statusAbandonnee, commentAbandonnee}}
	case strings.Contains(joined, statusARecycler):
		return []planStep{s(statusDeposee), s(statusEnCoursAcheminement), {statusARecycler, commentARecycler},
			s(statusEnCoursAcheminement), s(statusMiseADisposition), s(statusPriseEnCompte),
			s(statusServiceFait), s(statusMandatee), s(statusMiseEnPaiement)}
	case strings.Contains(joined, statusSuspendue):
		return []planStep{s(statusDeposee), s(statusEnCoursAcheminement), s(statusMiseADisposition),
			{statusSuspendue, commentSuspendue}, {statusCompletee, commentCompletee},
			s(statusMiseADisposition), s(statusPriseEnCompte), s(statusServiceFait), s(statusMandatee),
			s(statusMiseEnPaiement)}
	}
	return []planStep{s(statusDeposee), s(statusEnCoursAcheminement), s(statusMiseADisposition),
		s(statusPriseEnCompte), s(statusServiceFait), s(statusMandatee), s(statusMiseEnPaiement)}
}

// stepIndex is how many steps of length step separate from and now,
// bounded to [0, last].
func stepIndex(from, now time.Time, step time.Duration, last int) int {
	if !now.After(from) {
		return 0
	}
	n := now.Sub(from) / step
	if n > time.Duration(last) {
		return last
	}
	return int(n)
}

// flowState returns a flow's state at now and when it was reached.
func (f *flow) state(now time.Time, step time.Duration) (string, time.Time) {
	i := stepIndex(f.depositAt, now, step, flowStepsBeforeFinal)
	at := f.depositAt.Add(time.Duration(i) * step)
	switch i {
	case 0:
		return flowRecu, at
	case 1:
		return flowEnAttente, at
	case 2:
		return flowEnCours, at
	}
	return f.final, at
}

// reached returns the steps an invoice has reached at now, with their dates.
func (inv *invoice) reached(now time.Time, step time.Duration) ([]planStep, []time.Time) {
	i := stepIndex(inv.depositAt, now, step, len(inv.plan)-1)
	dates := make([]time.Time, i+1)
	for k := range dates {
		dates[k] = inv.depositAt.Add(time.Duration(k) * step)
	}
	return inv.plan[:i+1], dates
}
