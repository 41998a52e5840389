// Drives Verity's browser flows the way a single-page app or a server-side UI does, with the
// official Ory Kratos JavaScript client `@ory/kratos-client` 26.2.0, unmodified: cookies are
// carried in the `cookie` parameter, as a server-side UI forwards them. Then the admin routes
// that client calls. Usage: node browser.mjs <public base URL> <admin base URL>
import assert from "node:assert/strict";
import { Configuration, CourierApi, FrontendApi, IdentityApi } from "@ory/kratos-client";

const [publicUrl, adminUrl] = process.argv.slice(2);
const frontend = new FrontendApi(new Configuration({ basePath: publicUrl }));
const identities = new IdentityApi(new Configuration({ basePath: adminUrl }));
const courier = new CourierApi(new Configuration({ basePath: adminUrl }));
const password = "correct horse battery staple";
const email = `browser-${Date.now()}@example.com`;

// One browser's cookies: every Set-Cookie is kept, expired ones dropped.
const jar = new Map();
function keep(response) {
  for (const line of response.headers["set-cookie"] ?? []) {
    const [pair, ...attrs] = line.split(";");
    const at = pair.indexOf("=");
    const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
    const expired = attrs.some((a) => /max-age=0/i.test(a.trim()));
    if (expired || value === "") jar.delete(name.trim());
    else jar.set(name.trim(), value);
  }
  return response.data;
}
const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
const csrf = (flow) => flow.ui.nodes.find((n) => n.attributes.name === "csrf_token").attributes.value;

async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    if (e.response) return e.response;
    throw e;
  }
  assert.fail("expected the call to fail");
}

async function codeFor(address) {
  for (let i = 0; i < 50; i++) {
    const { data } = await courier.listCourierMessages({ recipient: address });
    const match = data.map((m) => /\b(\d{6})\b/.exec(m.body ?? "")).find(Boolean);
    if (match) return match[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no code was queued for ${address}`);
}

// Sign-up in a browser flow: the flow, its CSRF cookie and token, then the verification flow.
const registration = keep(await frontend.createBrowserRegistrationFlow());
assert.equal(registration.type, "browser");
assert.ok(jar.size > 0, "the CSRF cookie is set");
const signedUp = keep(
  await frontend.updateRegistrationFlow({
    flow: registration.id,
    updateRegistrationFlowBody: { method: "password", traits: { email }, password, csrf_token: csrf(registration) },
    cookie: cookie(),
  }),
);
assert.equal(signedUp.identity.traits.email, email);
const show = signedUp.continue_with.find((c) => c.action === "show_verification_ui");
assert.ok(show, JSON.stringify(signedUp.continue_with));

const verification = keep(await frontend.getVerificationFlow({ id: show.flow.id, cookie: cookie() }));
assert.equal(verification.type, "browser");
assert.equal(verification.state, "sent_email");
const verified = keep(
  await frontend.updateVerificationFlow({
    flow: verification.id,
    updateVerificationFlowBody: { method: "code", code: await codeFor(email), csrf_token: csrf(verification) },
    cookie: cookie(),
  }),
);
assert.equal(verified.state, "passed_challenge");

// A fresh browser verification flow offers the address field Kratos v26.2 sends.
const fresh = keep(await frontend.createBrowserVerificationFlow({ cookie: cookie() }));
const field = fresh.ui.nodes.find((n) => n.attributes.name === "email");
assert.equal(field.attributes.autocomplete, undefined);

// Sign-in: a wrong password answers the flow (400), the right one the session and its cookie.
let login = keep(await frontend.createBrowserLoginFlow({ cookie: cookie() }));
assert.equal(login.type, "browser");
const wrong = await failure(
  frontend.updateLoginFlow({
    flow: login.id,
    updateLoginFlowBody: { method: "password", identifier: email, password: "not it at all", csrf_token: csrf(login) },
    cookie: cookie(),
  }),
);
assert.equal(wrong.status, 400);
assert.equal(wrong.data.id, login.id);
assert.equal(wrong.data.ui.messages[0].id, 4000006);
const loggedIn = keep(
  await frontend.updateLoginFlow({
    flow: login.id,
    updateLoginFlowBody: { method: "password", identifier: email, password, csrf_token: csrf(wrong.data) },
    cookie: cookie(),
  }),
);
assert.equal(loggedIn.session.identity.traits.email, email);
assert.equal(loggedIn.session_token, undefined, "browsers get a cookie, not a token");
const me = keep(await frontend.toSession({ cookie: cookie() }));
assert.equal(me.active, true);
assert.equal(me.identity.traits.email, email);

// Settings in the browser flow.
const settings = keep(await frontend.createBrowserSettingsFlow({ cookie: cookie() }));
assert.equal(settings.type, "browser");
const saved = keep(
  await frontend.updateSettingsFlow({
    flow: settings.id,
    updateSettingsFlowBody: {
      method: "profile",
      traits: { email, name: { first: "Ada" } },
      csrf_token: csrf(settings),
    },
    cookie: cookie(),
  }),
);
assert.equal(saved.state, "success");
assert.equal(keep(await frontend.toSession({ cookie: cookie() })).identity.traits.name.first, "Ada");

// Admin routes this client calls.
const { data: all } = await identities.listSessions({ expand: ["identity", "devices"], pageSize: 1000 });
const mine = all.find((s) => s.id === me.id);
assert.equal(mine.identity.id, me.identity.id);
const { data: batch } = await identities.batchPatchIdentities({
  patchIdentitiesBody: {
    identities: [{ create: { schema_id: "default", traits: { email: `batch-${email}` } } }],
  },
});
assert.equal(batch.identities[0].action, "create");
const noTotp = await failure(identities.deleteIdentityCredentials({ id: me.identity.id, type: "totp" }));
assert.equal(noTotp.status, 404);
const { data: schemas } = await identities.listIdentitySchemas();
assert.ok(schemas.some((s) => s.id === "default"));

// Logout: the logout URL's token ends the session and clears the cookie.
const logout = keep(await frontend.createBrowserLogoutFlow({ cookie: cookie() }));
assert.ok(logout.logout_token);
keep(await frontend.updateLogoutFlow({ token: logout.logout_token, cookie: cookie() }));
const gone = await failure(frontend.toSession({ cookie: cookie() }));
assert.equal(gone.status, 401);
console.log("browser flows passed");
