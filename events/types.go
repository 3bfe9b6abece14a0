package events

import "fmt"

// CloudEvent types. The intake types are also the NATS subjects they are published on;
// the output types are published on "<type>.<account>".
const (
	TypeInvoiceSubmit     = "invoice.submit"
	TypeInvoiceStatus     = "invoice.status"
	TypeDeclarationSubmit = "declaration.submit"
	TypeDeclarationStatus = "declaration.status"
	TypeDeclarationReturn = "declaration.return"
)

// SpecVersion is the only CloudEvents specification version passerelle accepts and emits.
const SpecVersion = "1.0"

// Source is the CloudEvents source of every event passerelle emits.
const Source = "urn:passerelle"

// ValidAccount reports whether name can be used as an account name (1 to 64 letters,
// digits, '_' or '-'), so that it can be a token of a NATS subject.
func ValidAccount(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Subject returns the NATS subject of an output event of type typ for account.
// It returns an error when account is not a valid account name.
func Subject(typ, account string) (string, error) {
	if !ValidAccount(account) {
		return "", fmt.Errorf("events: account %q is not a valid account name (1-64 of A-Z a-z 0-9 _ -)", account)
	}
	return typ + "." + account, nil
}
