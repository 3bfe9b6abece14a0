package chorusprotest

// Seed data: the accounts and structures an Emulator knows when its Config
// leaves them empty. Demo data and schema examples may rely on these values.
// The SIRET numbers pass the Luhn check (SIREN and SIRET).
const (
	// SeedClientID and SeedClientSecret are the PISTE application,
	// subscribed to every API.
	SeedClientID     = "passerelle-emulateur"
	SeedClientSecret = "emulateur-secret-piste"

	// SeedLogin and SeedPassword are the technical account, attached to the
	// supplier SeedIDFournisseur; its password never expires.
	SeedLogin    = "TECH_1_passerelle@cpro.fr"
	SeedPassword = "emulateur-mot-de-passe"
	// SeedIDUtilisateurCourant is the technical account's user id
	// (idUtilisateurCourant).
	SeedIDUtilisateurCourant int64 = 33100001

	// SeedIDFournisseur is the supplier structure (fournisseur.idFournisseur),
	// SeedSIRETFournisseur its SIRET.
	SeedIDFournisseur    int64 = 26300001
	SeedSIRETFournisseur       = "88000001300016"
	// SeedDesignationFournisseur is the supplier's name.
	SeedDesignationFournisseur = "PASSERELLE DEMO SAS"

	// SeedSIRETServiceRequired is a recipient that requires a service code
	// (codeServiceDoitEtreRenseigne): use SeedCodeServiceActif.
	SeedSIRETServiceRequired             = "11000001500013"
	SeedIDStructureServiceRequired int64 = 25400001
	// SeedCodeServiceActif is an active service of that recipient;
	// SeedCodeServiceInactif an inactive one (refused).
	SeedCodeServiceActif   = "FACTURES"
	SeedCodeServiceInactif = "ANCIEN_SERVICE"

	// SeedSIRETEngagementRequired is a recipient that requires an engagement
	// number (numeroEJDoitEtreRenseigne) in references.numeroBonCommande; any
	// non-empty value is accepted, e.g. SeedNumeroEngagement. Its service
	// SeedCodeServiceEngagement is optional.
	SeedSIRETEngagementRequired             = "11000002300017"
	SeedIDStructureEngagementRequired int64 = 25400002
	SeedNumeroEngagement                    = "EJ-2025-000123"
	SeedCodeServiceEngagement               = "COMPTABILITE"

	// SeedSIRETNoRule is a recipient with no rule: neither service code nor
	// engagement number is required (its service SeedCodeServiceNoRule is
	// optional).
	SeedSIRETNoRule             = "11000003100010"
	SeedIDStructureNoRule int64 = 25400003
	SeedCodeServiceNoRule       = "ACHATS"

	// SeedSIRETServiceOrEngagement is a recipient that requires a service
	// code or an engagement number (gestionNumeroEJOuCodeService); its service
	// is SeedCodeServiceOrEngagement.
	SeedSIRETServiceOrEngagement             = "11000004900012"
	SeedIDStructureServiceOrEngagement int64 = 25400004
	SeedCodeServiceOrEngagement              = "PHARMACIE"
)

// SeedPisteApps returns the seeded PISTE application.
func SeedPisteApps() []PisteApp {
	return []PisteApp{{ClientID: SeedClientID, ClientSecret: SeedClientSecret}}
}

// SeedTechnicalAccounts returns the seeded technical account.
func SeedTechnicalAccounts() []TechnicalAccount {
	return []TechnicalAccount{{
		Login:          SeedLogin,
		Password:       SeedPassword,
		IDUtilisateur:  SeedIDUtilisateurCourant,
		IDFournisseurs: []int64{SeedIDFournisseur},
	}}
}

// SeedSuppliers returns the seeded supplier structure.
func SeedSuppliers() []Supplier {
	return []Supplier{{IDFournisseur: SeedIDFournisseur, SIRET: SeedSIRETFournisseur, Designation: SeedDesignationFournisseur}}
}

// SeedRecipients returns the seeded recipient structures.
func SeedRecipients() []Recipient {
	return []Recipient{
		{
			IDStructureCPP:               SeedIDStructureServiceRequired,
			SIRET:                        SeedSIRETServiceRequired,
			Designation:                  "MINISTERE DE L'EMULATION",
			CodeServiceDoitEtreRenseigne: true,
			Services: []Service{
				{IDService: 1000101, CodeService: SeedCodeServiceActif, LibelleService: "Service facturier", EstActif: true},
				{IDService: 1000102, CodeService: SeedCodeServiceInactif, LibelleService: "Ancien service", EstActif: false},
			},
		},
		{
			IDStructureCPP:            SeedIDStructureEngagementRequired,
			SIRET:                     SeedSIRETEngagementRequired,
			Designation:               "COMMUNE D'EMULATION",
			NumeroEJDoitEtreRenseigne: true,
			Services: []Service{
				{IDService: 1000201, CodeService: SeedCodeServiceEngagement, LibelleService: "Comptabilité", EstActif: true},
			},
		},
		{
			IDStructureCPP: SeedIDStructureNoRule,
			SIRET:          SeedSIRETNoRule,
			Designation:    "ETABLISSEMENT PUBLIC D'EMULATION",
			Services: []Service{
				{IDService: 1000301, CodeService: SeedCodeServiceNoRule, LibelleService: "Achats", EstActif: true},
			},
		},
		{
			IDStructureCPP:               SeedIDStructureServiceOrEngagement,
			SIRET:                        SeedSIRETServiceOrEngagement,
			Designation:                  "CENTRE HOSPITALIER D'EMULATION",
			GestionNumeroEJOuCodeService: true,
			Services: []Service{
				{IDService: 1000401, CodeService: SeedCodeServiceOrEngagement, LibelleService: "Pharmacie", EstActif: true},
			},
		},
	}
}
