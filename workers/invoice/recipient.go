package invoice

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
)

// recipientRules are what Chorus Pro requires of invoices to one recipient.
type recipientRules struct {
	known   bool
	name    string
	params  choruspro.ParametresStructure
	expires time.Time
}

// recipientCache keeps recipients' rules for a while, per account and SIRET. Concurrent
// look-ups of the same recipient share one call.
type recipientCache struct {
	mu     sync.Mutex
	ttl    time.Duration
	rules  map[string]recipientRules
	flight singleflight.Group
}

const recipientCacheMax = 10000

func newRecipientCache(ttl time.Duration) *recipientCache {
	return &recipientCache{ttl: ttl, rules: map[string]recipientRules{}}
}

func (c *recipientCache) get(key string, now time.Time) (recipientRules, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.rules[key]
	if !ok || now.After(r.expires) {
		return recipientRules{}, false
	}
	return r, true
}

func (c *recipientCache) put(key string, r recipientRules, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rules) >= recipientCacheMax {
		clear(c.rules)
	}
	r.expires = now.Add(c.ttl)
	c.rules[key] = r
}

// recipient returns the rules of the invoice's recipient, from the cache or from
// Chorus Pro (structures/rechercher then structures/consulter).
func (f *Flow) recipient(ctx context.Context, acct *Account, siret string) (recipientRules, error) {
	key := acct.Name + "/" + siret
	if r, ok := f.recipients.get(key, f.now()); ok {
		return r, nil
	}
	v, err, _ := f.recipients.flight.Do(key, func() (any, error) { return f.lookupRecipient(ctx, acct, siret, key) })
	if err != nil {
		return recipientRules{}, err
	}
	return v.(recipientRules), nil
}

func (f *Flow) lookupRecipient(ctx context.Context, acct *Account, siret, key string) (recipientRules, error) {
	var found *choruspro.RechercherStructuresResponse
	err := f.call(ctx, acct.Name, true, func(ctx context.Context) error {
		var err error
		found, err = acct.Client.RechercherStructures(ctx, choruspro.RechercherStructuresRequest{
			Structure: choruspro.CritereStructure{IdentifiantStructure: siret, TypeIdentifiantStructure: "SIRET"},
		})
		return err
	})
	if err != nil {
		return recipientRules{}, err
	}
	var r recipientRules
	for _, s := range found.ListeStructures {
		if s.IdentifiantStructure == siret || len(found.ListeStructures) == 1 {
			var details *choruspro.ConsulterStructureResponse
			err := f.call(ctx, acct.Name, true, func(ctx context.Context) error {
				var err error
				details, err = acct.Client.ConsulterStructure(ctx, choruspro.ConsulterStructureRequest{IDStructureCPP: s.IDStructureCPP})
				return err
			})
			if err != nil {
				return recipientRules{}, err
			}
			r = recipientRules{known: true, name: s.DesignationStructure, params: details.Parametres}
			break
		}
	}
	f.recipients.put(key, r, f.now())
	return r, nil
}

// checkRecipient applies the recipient's rules to the invoice before anything is
// deposited, and returns the rejection when the invoice breaks one.
func (f *Flow) checkRecipient(ctx context.Context, acct *Account, inv *events.Invoice) (*events.Rejection, error) {
	if inv.Recipient == nil {
		return nil, nil
	}
	r, err := f.recipient(ctx, acct, inv.Recipient.SIRET)
	if err != nil {
		return nil, err
	}
	reject := func(location, msg string) *events.Rejection {
		return &events.Rejection{Source: "passerelle", Reason: "the invoice breaks its recipient's Chorus Pro rules",
			Errors: []events.Problem{{Location: location, Message: msg}}}
	}
	siret := inv.Recipient.SIRET
	switch p := r.params; {
	case !r.known:
		return reject("/invoice/recipient/siret", fmt.Sprintf("no Chorus Pro structure has SIRET %s", siret)), nil
	case p.CodeServiceDoitEtreRenseigne && inv.Recipient.ServiceCode == "":
		return reject("/invoice/recipient/serviceCode", fmt.Sprintf("recipient %s (%s) requires a service code (codeServiceDoitEtreRenseigne)", siret, r.name)), nil
	case p.NumeroEJDoitEtreRenseigne && inv.PurchaseOrder == "":
		return reject("/invoice/purchaseOrder", fmt.Sprintf("recipient %s (%s) requires an engagement number (numeroEJDoitEtreRenseigne)", siret, r.name)), nil
	case p.GestionNumeroEJOuCodeService && inv.PurchaseOrder == "" && inv.Recipient.ServiceCode == "":
		return reject("/invoice/purchaseOrder", fmt.Sprintf("recipient %s (%s) requires an engagement number or a service code", siret, r.name)), nil
	}
	return nil, nil
}
