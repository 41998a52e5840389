// A real OpenID provider (the certified `oidc-provider` package) for Verity's tests.
//
//   node provider.mjs [--port N] [--client JSON] [--accounts JSON] [--accounts-file PATH]
//                     [--exit-on-stdin-close]
//
// Environment fallbacks: OIDC_PORT, OIDC_CLIENT, OIDC_ACCOUNTS, OIDC_ACCOUNTS_FILE.
// client:   {"client_id": "...", "client_secret": "...", "redirect_uris": ["..."]}
// accounts: {"<account-id>": {"email": "...", "email_verified": true, "name": "..."}}
//
// The first stdout line is {"issuer": "...", "port": N}, so a caller can use port 0.
// Login is an HTML form posting `login=<account-id>`; consent is granted automatically.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--exit-on-stdin-close') out.exitOnStdinClose = true;
    else if (a.startsWith('--')) out[a.slice(2)] = argv[++i];
    else if (out.port === undefined) out.port = a;
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const port = Number(args.port ?? process.env.OIDC_PORT ?? 0);
const client = JSON.parse(args.client ?? process.env.OIDC_CLIENT ?? 'null');
const accountsFile = args['accounts-file'] ?? process.env.OIDC_ACCOUNTS_FILE;
const accounts = JSON.parse(
  args.accounts ?? process.env.OIDC_ACCOUNTS ?? (accountsFile ? readFileSync(accountsFile, 'utf8') : '{}'),
);
if (!client || !client.client_id || !client.client_secret || !Array.isArray(client.redirect_uris)) {
  console.error('provider.mjs: --client / OIDC_CLIENT must be {"client_id","client_secret","redirect_uris":[...]}');
  process.exit(2);
}

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function loginPage(uid, error) {
  return `<!doctype html><html><head><title>Sign in</title></head><body>
<h1>Sign in to the test provider</h1>${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<input type="text" name="login" autofocus>
<button type="submit">Sign in</button>
</form></body></html>`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 16384) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  const issuer = `http://127.0.0.1:${actual}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: client.client_id,
        client_secret: client.client_secret,
        redirect_uris: client.redirect_uris,
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    // Scope-requested claims go into the ID token as well as userinfo.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account }) };
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    const m = req.url.match(/^\/interaction\/([^/?]+)(\/login)?(\?.*)?$/);
    if (!m) return callback(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== m[1]) throw new Error('interaction mismatch');
      if (req.method === 'POST' && m[2]) {
        const login = (await readForm(req)).get('login') ?? '';
        if (!Object.hasOwn(accounts, login)) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          return res.end(loginPage(details.uid, 'unknown account'));
        }
        return await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      }
      if (details.prompt.name === 'login') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(loginPage(details.uid));
      }
      if (details.prompt.name === 'consent') {
        const { prompt, params, session, grantId } = details;
        const grant = grantId
          ? await provider.Grant.find(grantId)
          : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
        if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
        if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
        for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
        const saved = await grant.save();
        return await provider.interactionFinished(req, res, { consent: { grantId: saved } }, { mergeWithLastSubmission: true });
      }
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`unsupported prompt ${details.prompt.name}`);
    } catch (e) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${e.message}`);
    }
  });

  process.stdout.write(`${JSON.stringify({ issuer, port: actual })}\n`);
});

if (args.exitOnStdinClose) {
  // The test that started us died without killing us: do not linger.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
