package choruspro

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// FuzzDecodeAnswer feeds arbitrary answers to the decoding of every answer
// type: it must return an answer or an *Error, never panic.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add(uint16(200), []byte(`{"codeRetour":0,"libelle":"GCU_MSG_01_000","identifiantFactureCPP":8316848,"numeroFacture":"F1","statutFacture":"DEPOSEE"}`), "", "")
	f.Add(uint16(400), []byte(`{"codeRetour":20002,"libelle":"Le destinataire n'existe pas"}`), "", "")
	f.Add(uint16(200), []byte(`{"codeRetour":20099,"libelle":"x"}`), "", "")
	f.Add(uint16(401), []byte(``), "", `Bearer realm="PISTE",error="Unauthorized",error_description="login or password incorrects"`)
	f.Add(uint16(429), []byte(`{"error":"Too Many Requests"}`), "12", "")
	f.Add(uint16(503), []byte(`<html>`), "Wed, 21 Oct 2015 07:28:00 GMT", "")
	f.Add(uint16(200), []byte(`{"listeFactures":[{"identifiantFactureCPP":1,"montantTTC":12.50}],"parametresRetour":{"total":1}}`), "", "")
	f.Add(uint16(200), []byte(`{"codeRetour":"0"}`), "", "")
	f.Add(uint16(200), []byte(`{"montantHT":"1e400"}`), "", "")

	c := &Client{now: func() time.Time { return time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC) }}
	f.Fuzz(func(t *testing.T, status uint16, body []byte, retryAfter, wwwAuthenticate string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("WWW-Authenticate", wwwAuthenticate)
		ans := &answer{status: int(status), header: h, body: body}
		for _, out := range []outcome{
			&SoumettreResponse{}, &DeposerPDFResponse{}, &DeposerFluxResponse{}, &ConsulterCRDetailleResponse{},
			&RechercherFacturesFournisseurResponse{}, &ConsulterHistoriqueResponse{}, &RechercherStructuresResponse{},
			&ConsulterStructureResponse{}, &RechercherServicesStructureResponse{}, &healthAnswer{},
		} {
			err := c.decode("Fuzz", ans, out)
			if err == nil {
				if status < 200 || status > 299 {
					t.Fatalf("status %d: got no error", status)
				}
				if out.retour().CodeRetour != 0 {
					t.Fatalf("got no error for codeRetour %d", out.retour().CodeRetour)
				}
				continue
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %T, want *Error", err)
			}
			if ce.RetryAfter() < 0 {
				t.Fatalf("got a negative Retry-After %s", ce.RetryAfter())
			}
			_ = ce.Error()
		}
	})
}
