// Maps an OpenID Connect provider's claims to identity traits, carrying over the
// provider's "email_verified" so a verified address needs no second verification.
// Without an email claim the trait is left out, so the schema reports it as required.
local claims = { email_verified: false } + std.extVar('claims');

{
  identity: {
    traits: {
      [if 'email' in claims then 'email' else null]: claims.email,
    },
    verified_addresses: std.prune([
      if 'email' in claims && claims.email_verified then { via: 'email', value: claims.email },
    ]),
  },
}
