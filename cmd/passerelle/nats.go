package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsSettings are how passerelle connects to NATS.
type natsSettings struct {
	URL   string
	Creds string // credentials file (JWT and nkey seed)
	NKey  string // nkey seed file
	CA    string // CA certificates (PEM) to verify the server
	Cert  string // client certificate (PEM), with Key
	Key   string
}

// connect connects to NATS and keeps reconnecting for ever.
func (s natsSettings) connect(name string) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(false),
	}
	if s.Creds != "" {
		opts = append(opts, nats.UserCredentials(s.Creds))
	}
	if s.NKey != "" {
		o, err := nats.NkeyOptionFromSeed(s.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats: nkey seed file: %w", err)
		}
		opts = append(opts, o)
	}
	if s.CA != "" {
		opts = append(opts, nats.RootCAs(s.CA))
	}
	if s.Cert != "" || s.Key != "" {
		opts = append(opts, nats.ClientCert(s.Cert, s.Key))
	}
	nc, err := nats.Connect(s.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redactURLs(s.URL), err)
	}
	return nc, nil
}

// jetStream connects like connect and returns the JetStream context too; close
// the connection when done.
func (s natsSettings) jetStream(name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := s.connect(name)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// operatorNATS returns the NATS settings of an operator's command: the server at
// url, with the credentials and TLS files `passerelle run` reads from the same
// environment variables (PASSERELLE_NATS_CREDS, _NKEY, _CA, _CERT and _KEY).
func operatorNATS(e env, url string) natsSettings {
	return natsSettings{
		URL: url, Creds: e.getenv("PASSERELLE_NATS_CREDS"), NKey: e.getenv("PASSERELLE_NATS_NKEY"),
		CA: e.getenv("PASSERELLE_NATS_CA"), Cert: e.getenv("PASSERELLE_NATS_CERT"), Key: e.getenv("PASSERELLE_NATS_KEY"),
	}
}

func defaultNATSURL(e env) string {
	if u := e.getenv("NATS_URL"); u != "" {
		return u
	}
	return nats.DefaultURL
}

// redactURLs returns a comma-separated list of NATS URLs fit for an error message:
// a password, or a token (a user without password), is replaced by "xxxxx". An
// entry that does not parse is replaced whole, lest it hold a secret.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		switch {
		case err != nil:
			parts[i] = "(an unreadable URL)"
		case u.User == nil:
			parts[i] = p
		default:
			if _, hasPassword := u.User.Password(); hasPassword {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx")
			}
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
