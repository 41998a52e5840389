// Recovers an account with the official Ory SDK, unmodified: a native recovery flow, the
// emailed code, the session token and settings flow it answers with, a new password set
// through that flow; and a recovery code issued by the admin API.
// Usage: node recovery.mjs <public base URL> <admin base URL>
import assert from "node:assert/strict";
import { Configuration, CourierApi, FrontendApi, IdentityApi } from "@ory/client-fetch";

const [publicUrl, adminUrl] = process.argv.slice(2);
const frontend = new FrontendApi(new Configuration({ basePath: publicUrl }));
const identities = new IdentityApi(new Configuration({ basePath: adminUrl }));
const courier = new CourierApi(new Configuration({ basePath: adminUrl }));
const password = "correct horse battery staple";
const newPassword = "a new and unusual passphrase after recovery";

async function codeFor(email) {
  for (let i = 0; i < 50; i++) {
    const messages = await courier.listCourierMessages({ recipient: email });
    const match = messages.map((m) => /\b(\d{6})\b/.exec(m.body ?? "")).find(Boolean);
    if (match) return match[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no code was queued for ${email}`);
}

const email = `recover-${Date.now()}@example.com`;
const created = await identities.createIdentity({
  createIdentityBody: {
    schema_id: "default",
    traits: { email },
    credentials: { password: { config: { password } } },
  },
});

const flow = await frontend.createNativeRecoveryFlow();
assert.equal(flow.type, "api");
assert.equal(flow.state, "choose_method");
const sent = await frontend.updateRecoveryFlow({
  flow: flow.id,
  updateRecoveryFlowBody: { method: "code", email },
});
assert.equal(sent.state, "sent_email");
assert.equal(sent.ui.messages[0].id, 1060003);

const code = await codeFor(email);
const done = await frontend.updateRecoveryFlow({
  flow: flow.id,
  updateRecoveryFlowBody: { method: "code", code },
});
assert.equal(done.state, "passed_challenge");
const token = done.continue_with.find((c) => c.action === "set_ory_session_token");
const settingsUi = done.continue_with.find((c) => c.action === "show_settings_ui");
assert.ok(token && settingsUi, JSON.stringify(done.continue_with));

const session = await frontend.toSession({ xSessionToken: token.ory_session_token });
assert.equal(session.identity.id, created.id);
assert.equal(session.identity.verifiable_addresses[0].verified, true);

const settings = await frontend.getSettingsFlow({
  id: settingsUi.flow.id,
  xSessionToken: token.ory_session_token,
});
assert.equal(settings.ui.messages[0].id, 1060001);
const saved = await frontend.updateSettingsFlow({
  flow: settings.id,
  xSessionToken: token.ory_session_token,
  updateSettingsFlowBody: { method: "password", password: newPassword },
});
assert.equal(saved.state, "success");

const login = await frontend.updateLoginFlow({
  flow: (await frontend.createNativeLoginFlow()).id,
  updateLoginFlowBody: { method: "password", identifier: email, password: newPassword },
});
assert.ok(login.session_token);

// An administrator's recovery code works the same way.
const issued = await identities.createRecoveryCodeForIdentity({
  createRecoveryCodeForIdentityBody: { identity_id: created.id, flow_type: "api", expires_in: "15m" },
});
assert.match(issued.recovery_code, /^\d{6}$/);
const adminFlowId = new URL(issued.recovery_link).searchParams.get("flow");
const adminDone = await frontend.updateRecoveryFlow({
  flow: adminFlowId,
  updateRecoveryFlowBody: { method: "code", code: issued.recovery_code },
});
assert.equal(adminDone.state, "passed_challenge");
console.log("sdk recovery: ok");
