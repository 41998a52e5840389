// Signs up, verifies the address and logs in against a running Verity with the official Ory
// SDK, unmodified. Usage: node signup.mjs <public base URL> <admin base URL>
import assert from "node:assert/strict";
import { Configuration, CourierApi, FrontendApi, IdentityApi, ResponseError } from "@ory/client-fetch";

const [publicUrl, adminUrl] = process.argv.slice(2);
const frontend = new FrontendApi(new Configuration({ basePath: publicUrl }));
const identities = new IdentityApi(new Configuration({ basePath: adminUrl }));
const courier = new CourierApi(new Configuration({ basePath: adminUrl }));
const password = "correct horse battery staple";

async function signUp(email) {
  const flow = await frontend.createNativeRegistrationFlow();
  assert.equal(flow.type, "api");
  return frontend.updateRegistrationFlow({
    flow: flow.id,
    updateRegistrationFlowBody: { method: "password", traits: { email }, password },
  });
}

async function logIn(email) {
  const flow = await frontend.createNativeLoginFlow();
  assert.equal(flow.type, "api");
  return frontend.updateLoginFlow({
    flow: flow.id,
    updateLoginFlowBody: { method: "password", identifier: email, password },
  });
}

// The message is in the outbox; bodies are readable because the server runs with --dev.
async function codeFor(email) {
  for (let i = 0; i < 50; i++) {
    const messages = await courier.listCourierMessages({ recipient: email });
    const match = messages.map((m) => /\b(\d{6})\b/.exec(m.body ?? "")).find(Boolean);
    if (match) return match[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no code was queued for ${email}`);
}

const stamp = Date.now();
const email = `signup-${stamp}@example.com`;

const registered = await signUp(email);
assert.ok(registered.identity.id);
assert.equal(registered.identity.traits.email, email);
assert.equal(registered.identity.verifiable_addresses[0].value, email);
assert.equal(registered.identity.verifiable_addresses[0].verified, false);
assert.equal(registered.session_token, undefined, "no session before the address is verified");
const show = registered.continue_with.find((c) => c.action === "show_verification_ui");
assert.ok(show, JSON.stringify(registered.continue_with));
assert.ok(show.flow.id);
assert.equal(show.flow.verifiable_address, email);

const code = await codeFor(email);
const verified = await frontend.updateVerificationFlow({
  flow: show.flow.id,
  updateVerificationFlowBody: { method: "code", code },
});
assert.equal(verified.state, "passed_challenge");

const login = await logIn(email);
assert.ok(login.session_token);
assert.equal(login.session.identity.traits.email, email);

// Verity adds a read-only `verified` to the identity; the SDK drops it and parses the rest.
const raw = await frontend.toSessionRaw({ xSessionToken: login.session_token });
const wire = await raw.raw.clone().json();
assert.equal(wire.identity.verified, true);
const session = await raw.value();
assert.equal(session.active, true);
assert.equal(session.identity.id, registered.identity.id);
assert.equal(session.identity.traits.email, email);
assert.equal(session.identity.verifiable_addresses[0].verified, true);
assert.equal(session.identity.verifiable_addresses[0].status, "completed");
assert.equal(session.identity.verified, undefined);

const same = await frontend.toSession({ xSessionToken: login.session_token });
assert.equal(same.identity.traits.email, email);

const admin = await identities.getIdentity({ id: registered.identity.id });
assert.equal(admin.traits.email, email);
assert.equal(admin.verifiable_addresses[0].verified, true);

// An address not verified yet: the login hook refuses a session, and the SDK raises 403.
const pending = `signup-pending-${stamp}@example.com`;
await signUp(pending);
try {
  await logIn(pending);
  assert.fail("an unverified address must not get a session");
} catch (e) {
  assert.ok(e instanceof ResponseError, String(e));
  assert.equal(e.response.status, 403);
  const body = await e.response.json();
  assert.equal(body.error.id, "session_verified_address_required");
}
console.log("sdk sign-up, verification and login: ok");
