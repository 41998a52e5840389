// Drives a verification flow against a running Verity with the official Ory SDK, unmodified.
// Usage: node verify.mjs <public base URL> <admin base URL>
import assert from "node:assert/strict";
import { Configuration, CourierApi, FrontendApi, IdentityApi, ResponseError } from "@ory/client-fetch";

const [publicUrl, adminUrl] = process.argv.slice(2);
const frontend = new FrontendApi(new Configuration({ basePath: publicUrl }));
const identities = new IdentityApi(new Configuration({ basePath: adminUrl }));
const courier = new CourierApi(new Configuration({ basePath: adminUrl }));

const email = `sdk-${Date.now()}@example.com`;
const created = await identities.createIdentity({
  createIdentityBody: { schema_id: "default", traits: { email } },
});
assert.equal(created.verifiable_addresses[0].status, "pending");

const flow = await frontend.createNativeVerificationFlow();
assert.equal(flow.type, "api");
assert.equal(flow.state, "choose_method");

const sent = await frontend.updateVerificationFlow({
  flow: flow.id,
  updateVerificationFlowBody: { method: "code", email },
});
assert.equal(sent.state, "sent_email");
assert.equal(sent.ui.messages[0].id, 1080003);

// The message is in the outbox; bodies are readable because the server runs with --dev.
let code;
for (let i = 0; i < 50 && !code; i++) {
  const messages = await courier.listCourierMessages({ recipient: email });
  const match = messages.map((m) => /\b(\d{6})\b/.exec(m.body ?? "")).find(Boolean);
  code = match?.[1];
  if (!code) await new Promise((r) => setTimeout(r, 100));
}
assert.ok(code, "a code was queued");

const wrong = await frontend.updateVerificationFlow({
  flow: flow.id,
  updateVerificationFlowBody: { method: "code", code: code === "000000" ? "111111" : "000000" },
});
assert.equal(wrong.ui.messages[0].id, 4070006);

const done = await frontend.updateVerificationFlow({
  flow: flow.id,
  updateVerificationFlowBody: { method: "code", code },
});
assert.equal(done.state, "passed_challenge");
assert.equal(done.ui.messages[0].id, 1080002);

const fetched = await frontend.getVerificationFlow({ id: flow.id });
assert.equal(fetched.state, "passed_challenge");

const identity = await identities.getIdentity({ id: created.id });
assert.equal(identity.verifiable_addresses[0].verified, true);
assert.equal(identity.verifiable_addresses[0].status, "completed");

// Submitting again: 410 self_service_flow_replaced, which the SDK raises as a ResponseError.
try {
  await frontend.updateVerificationFlow({
    flow: flow.id,
    updateVerificationFlowBody: { method: "code", code },
  });
  assert.fail("a finished flow must not accept the code again");
} catch (e) {
  assert.ok(e instanceof ResponseError, String(e));
  assert.equal(e.response.status, 410);
  const body = await e.response.json();
  assert.equal(body.error.id, "self_service_flow_replaced");
  assert.ok(body.use_flow_id);
}
console.log("sdk verification flow: ok");
