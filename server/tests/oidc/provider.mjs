// A real OpenID provider (panva's oidc-provider) on loopback for
// server/tests/oidc.rs. Not for anything but tests: in-memory storage,
// development signing keys, and a login step that asks for no password.
//
//   node provider.mjs <redirect_uri> <client_secret>
//
// Listens on 127.0.0.1, port 0, and prints `issuer http://127.0.0.1:<port>`
// on its first line once it answers. Exits when stdin closes (the test's
// end), so a failing test leaves no provider behind.
//
// The "browser" picks its account with `login_hint=<account>` on the
// authorization URL; the login interaction then finishes at once for that
// account, and consent is granted to the one registered client.

import http from 'node:http';
import Provider from 'oidc-provider';

const [redirectUri, clientSecret] = process.argv.slice(2);
if (!redirectUri || !clientSecret) {
  console.error('usage: node provider.mjs <redirect_uri> <client_secret>');
  process.exit(64);
}

// `groups` differs per account: an array, a plain string, none mapped, none
// at all; `mallory`'s preferred_username is not a valid Switchyard user name.
const accounts = {
  alice: { groups: ['staff', 'switchyard-admins'] },
  olga: { groups: 'switchyard-operators' },
  carol: { groups: ['staff'] },
  nogroups: {},
  mallory: { preferred_username: 'mallory <script>' },
  // Claims the name of the server's password admin.
  impostor: { preferred_username: 'admin', groups: ['switchyard-admins'] },
};

function account(id) {
  const a = accounts[id];
  if (!a) return undefined;
  return {
    accountId: id,
    async claims() {
      const claims = {
        sub: `sub-${id}`,
        preferred_username: a.preferred_username ?? id,
        email: `${id}@example.test`,
        email_verified: true,
      };
      if (a.groups !== undefined) claims.groups = a.groups;
      return claims;
    },
  };
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'switchyard',
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // The client must prove the code with its PKCE verifier.
  pkce: { required: () => true },
  // `groups` only with the `groups` scope, as Dex and Keycloak do; with the
  // default conformIdTokenClaims the claims are served by the userinfo
  // endpoint, not in the ID token.
  claims: {
    openid: ['sub'],
    profile: ['preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  findAccount: (ctx, sub) => account(sub),
  features: { devInteractions: { enabled: false } },
  cookies: { keys: ['switchyard-oidc-test'] },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
});

// Stands in for the login form: `login_hint` names the account.
provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/[^/]+$/);
  if (!m || ctx.method !== 'GET') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const hint = details.params.login_hint;
  if (details.prompt.name !== 'login' || !accounts[hint]) {
    ctx.status = 400;
    ctx.body = `test provider: prompt ${details.prompt.name}, unknown login_hint ${hint}`;
    return undefined;
  }
  const returnTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId: hint } },
    { mergeWithLastSubmission: false },
  );
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

server.on('request', provider.callback());
console.log(`issuer ${issuer}`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
