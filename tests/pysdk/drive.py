"""Drives a running Verity with the unmodified Ory Python SDK (ory-kratos-client).

Usage: python drive.py <public base URL> <admin base URL>

Every answer goes through the SDK's own models, which validate enums and required fields, so
a node attribute or a field outside Kratos's API fails here. Each step prints `ok NAME` or
`FAIL NAME: why`; the closing line counts them and the exit code is non-zero on any failure.
"""

import json
import re
import sys
import time
import traceback
import uuid

import ory_kratos_client as ory
from ory_kratos_client.exceptions import ApiException
from ory_kratos_client.models.batch_patch_identities_response import (
    BatchPatchIdentitiesResponse,
)
from ory_kratos_client.models.create_identity_body import CreateIdentityBody
from ory_kratos_client.models.error_generic import ErrorGeneric
from ory_kratos_client.models.identity_patch import IdentityPatch
from ory_kratos_client.models.identity_with_credentials import IdentityWithCredentials
from ory_kratos_client.models.identity_with_credentials_oidc import (
    IdentityWithCredentialsOidc,
)
from ory_kratos_client.models.identity_with_credentials_oidc_config import (
    IdentityWithCredentialsOidcConfig,
)
from ory_kratos_client.models.identity_with_credentials_oidc_config_provider import (
    IdentityWithCredentialsOidcConfigProvider,
)
from ory_kratos_client.models.identity_with_credentials_password import (
    IdentityWithCredentialsPassword,
)
from ory_kratos_client.models.identity_with_credentials_password_config import (
    IdentityWithCredentialsPasswordConfig,
)
from ory_kratos_client.models.json_patch import JsonPatch
from ory_kratos_client.models.login_flow import LoginFlow
from ory_kratos_client.models.patch_identities_body import PatchIdentitiesBody
from ory_kratos_client.models.perform_native_logout_body import PerformNativeLogoutBody
from ory_kratos_client.models.recovery_flow import RecoveryFlow
from ory_kratos_client.models.registration_flow import RegistrationFlow
from ory_kratos_client.models.settings_flow import SettingsFlow
from ory_kratos_client.models.update_identity_body import UpdateIdentityBody
from ory_kratos_client.models.update_login_flow_body import UpdateLoginFlowBody
from ory_kratos_client.models.update_login_flow_with_password_method import (
    UpdateLoginFlowWithPasswordMethod,
)
from ory_kratos_client.models.update_registration_flow_body import (
    UpdateRegistrationFlowBody,
)
from ory_kratos_client.models.update_registration_flow_with_password_method import (
    UpdateRegistrationFlowWithPasswordMethod,
)
from ory_kratos_client.models.update_settings_flow_body import UpdateSettingsFlowBody
from ory_kratos_client.models.update_settings_flow_with_password_method import (
    UpdateSettingsFlowWithPasswordMethod,
)
from ory_kratos_client.models.update_settings_flow_with_profile_method import (
    UpdateSettingsFlowWithProfileMethod,
)
from ory_kratos_client.models.update_verification_flow_body import (
    UpdateVerificationFlowBody,
)
from ory_kratos_client.models.update_verification_flow_with_code_method import (
    UpdateVerificationFlowWithCodeMethod,
)
from ory_kratos_client.models.verification_flow import VerificationFlow
from ory_kratos_client.models.create_recovery_code_for_identity_body import (
    CreateRecoveryCodeForIdentityBody,
)
from ory_kratos_client.models.update_recovery_flow_body import UpdateRecoveryFlowBody
from ory_kratos_client.models.update_recovery_flow_with_code_method import (
    UpdateRecoveryFlowWithCodeMethod,
)

PUBLIC, ADMIN = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")
PASSWORD = "correct horse battery staple"
results = {"passed": 0, "failed": 0}
state = {}


def client(base):
    return ory.ApiClient(ory.Configuration(host=base))


public_client, admin_client = client(PUBLIC), client(ADMIN)
frontend = ory.FrontendApi(public_client)
identities = ory.IdentityApi(admin_client)
courier = ory.CourierApi(admin_client)
metadata_public = ory.MetadataApi(public_client)
metadata_admin = ory.MetadataApi(admin_client)


def step(fn):
    try:
        fn()
        results["passed"] += 1
        print(f"ok {fn.__name__}", flush=True)
    except Exception as e:  # every failure is reported, the run goes on
        results["failed"] += 1
        detail = e.body if isinstance(e, ApiException) else ""
        print(f"FAIL {fn.__name__}: {e!r} {detail}", flush=True)
        traceback.print_exc()
    return fn


def expect_error(status, call):
    """Runs `call`, which must fail with `status`; returns the error body as JSON."""
    try:
        call()
    except ApiException as e:
        assert e.status == status, f"expected {status}, got {e.status}: {e.body}"
        return json.loads(e.body)
    raise AssertionError(f"expected an error {status}, the call succeeded")


def code_for(address, after=0):
    """The newest 6-digit code mailed to `address` (bodies are readable in --dev)."""
    for _ in range(100):
        messages = courier.list_courier_messages(recipient=address)
        found = [
            m for m in messages if re.search(r"\b(\d{6})\b", m.body or "")
        ]
        if len(found) > after:
            newest = max(found, key=lambda m: m.created_at)
            return re.search(r"\b(\d{6})\b", newest.body).group(1)
        time.sleep(0.1)
    raise AssertionError(f"no code was queued for {address}")


def recovery_code_for(address):
    """The newest recovery code mailed to `address` (digits on a line of their own)."""
    for _ in range(100):
        messages = courier.list_courier_messages(recipient=address)
        found = [m for m in messages if m.template_type == "recovery_code_valid"]
        if found:
            newest = max(found, key=lambda m: m.created_at)
            return re.search(r"^\s*(\d{6,8})\s*$", newest.body, re.M).group(1)
        time.sleep(0.1)
    raise AssertionError(f"no recovery code was queued for {address}")


def register(email):
    flow = frontend.create_native_registration_flow()
    body = UpdateRegistrationFlowWithPasswordMethod(
        method="password", password=PASSWORD, traits={"email": email}
    )
    return frontend.update_registration_flow(
        flow=flow.id, update_registration_flow_body=UpdateRegistrationFlowBody(body)
    )


def login(email, password=PASSWORD):
    flow = frontend.create_native_login_flow()
    body = UpdateLoginFlowWithPasswordMethod(
        method="password", identifier=email, password=password
    )
    return frontend.update_login_flow(
        flow=flow.id, update_login_flow_body=UpdateLoginFlowBody(body)
    )


EMAIL = f"py-{uuid.uuid4().hex[:10]}@example.com"


@step
def health_and_version():
    assert metadata_public.is_alive().status == "ok"
    assert metadata_admin.is_ready().status == "ok"
    assert metadata_admin.get_version().version


@step
def registration_flow_parses_and_refuses_a_short_password():
    flow = frontend.create_native_registration_flow()
    assert flow.type == "api" and flow.state == "choose_method"
    again = frontend.get_registration_flow(id=flow.id)
    assert again.id == flow.id
    bad = UpdateRegistrationFlowWithPasswordMethod(
        method="password", password="short", traits={"email": "x-" + EMAIL}
    )
    body = expect_error(
        400,
        lambda: frontend.update_registration_flow(
            flow=flow.id, update_registration_flow_body=UpdateRegistrationFlowBody(bad)
        ),
    )
    shown = RegistrationFlow.from_dict(body)
    assert any(n.messages for n in shown.ui.nodes), "the password node says why"


@step
def registration_succeeds_and_points_at_verification():
    done = register(EMAIL)
    assert done.identity.traits["email"] == EMAIL
    assert done.session_token is None, "no session before the address is verified"
    show = [c.actual_instance for c in done.continue_with or []]
    flows = [c for c in show if c.action == "show_verification_ui"]
    assert flows, show
    state["identity"] = done.identity.id
    state["signup_verification"] = flows[0].flow.id


@step
def login_before_verifying_is_refused_with_the_flow():
    body = expect_error(403, lambda: login(EMAIL))
    err = ErrorGeneric.from_dict(body)
    assert err.error.id == "session_verified_address_required", body


@step
def verification_flow_parses_and_verifies_the_address():
    fresh = frontend.create_native_verification_flow()
    assert fresh.state == "choose_method"
    email_node = next(
        n for n in fresh.ui.nodes if n.attributes.actual_instance.name == "email"
    )
    attrs = email_node.attributes.actual_instance
    # Kratos v26.2's `type: email` (1070007); with an SMS channel Verity asks for
    # "email or phone number" in a text field (1070018, as Kratos after v26.2 does).
    expected = {1070007: "email", 1070018: "text"}
    assert expected.get(email_node.meta.label.id) == attrs.type, (attrs, email_node.meta)
    assert attrs.autocomplete is None
    flow = frontend.get_verification_flow(id=state["signup_verification"])
    assert flow.state == "sent_email"
    wrong = UpdateVerificationFlowWithCodeMethod(method="code", code="000000")
    shown = frontend.update_verification_flow(
        flow=flow.id, update_verification_flow_body=UpdateVerificationFlowBody(wrong)
    )
    assert shown.ui.messages and shown.ui.messages[0].type == "error", shown.ui.messages
    right = UpdateVerificationFlowWithCodeMethod(method="code", code=code_for(EMAIL))
    passed = frontend.update_verification_flow(
        flow=flow.id, update_verification_flow_body=UpdateVerificationFlowBody(right)
    )
    assert passed.state == "passed_challenge", passed.state


@step
def verification_by_sending_a_code_to_an_address():
    flow = frontend.create_native_verification_flow()
    sent = frontend.update_verification_flow(
        flow=flow.id,
        update_verification_flow_body=UpdateVerificationFlowBody(
            UpdateVerificationFlowWithCodeMethod(method="code", email=EMAIL)
        ),
    )
    assert sent.state == "sent_email", sent.state
    VerificationFlow.from_dict(sent.to_dict())


@step
def wrong_password_answers_the_flow():
    body = expect_error(400, lambda: login(EMAIL, "not the password at all"))
    flow = LoginFlow.from_dict(body)
    assert flow.ui.messages and flow.ui.messages[0].id == 4000006, flow.ui.messages


@step
def login_and_whoami():
    done = login(EMAIL)
    assert done.session_token and done.session.identity.traits["email"] == EMAIL
    state["token"] = done.session_token
    state["session"] = done.session.id
    me = frontend.to_session(x_session_token=done.session_token)
    assert me.active and me.identity.id == state["identity"]
    assert me.identity.verifiable_addresses[0].verified
    mine = frontend.list_my_sessions(x_session_token=done.session_token)
    assert isinstance(mine, list)


@step
def settings_profile_and_password():
    token = state["token"]
    flow = frontend.create_native_settings_flow(x_session_token=token)
    assert flow.type == "api" and flow.state == "show_form"
    again = frontend.get_settings_flow(id=flow.id, x_session_token=token)
    assert again.id == flow.id
    profile = UpdateSettingsFlowWithProfileMethod(
        method="profile", traits={"email": EMAIL}
    )
    saved = frontend.update_settings_flow(
        flow=flow.id,
        update_settings_flow_body=UpdateSettingsFlowBody(profile),
        x_session_token=token,
    )
    assert saved.state == "success", saved.state
    flow = frontend.create_native_settings_flow(x_session_token=token)
    short = UpdateSettingsFlowWithPasswordMethod(method="password", password="short")
    body = expect_error(
        400,
        lambda: frontend.update_settings_flow(
            flow=flow.id,
            update_settings_flow_body=UpdateSettingsFlowBody(short),
            x_session_token=token,
        ),
    )
    SettingsFlow.from_dict(body)
    state["password"] = PASSWORD + " again"
    new = UpdateSettingsFlowWithPasswordMethod(method="password", password=state["password"])
    flow = frontend.create_native_settings_flow(x_session_token=token)
    saved = frontend.update_settings_flow(
        flow=flow.id,
        update_settings_flow_body=UpdateSettingsFlowBody(new),
        x_session_token=token,
    )
    assert saved.state == "success", saved.state
    assert login(EMAIL, state["password"]).session_token


@step
def admin_identities():
    email = "admin-" + EMAIL
    created = identities.create_identity(
        create_identity_body=CreateIdentityBody(
            schema_id="default",
            traits={"email": email},
            credentials=IdentityWithCredentials(
                password=IdentityWithCredentialsPassword(
                    config=IdentityWithCredentialsPasswordConfig(password=PASSWORD)
                )
            ),
        )
    )
    state["admin_identity"] = created.id
    got = identities.get_identity(id=created.id, include_credential=["password"])
    assert got.traits["email"] == email
    page = identities.list_identities(page_size=1)
    assert len(page) == 1
    legacy = identities.list_identities(page=0, per_page=2)
    assert 1 <= len(legacy) <= 2
    by_identifier = identities.list_identities(credentials_identifier=email)
    assert [i.id for i in by_identifier] == [created.id]
    replaced = identities.update_identity(
        id=created.id,
        update_identity_body=UpdateIdentityBody(
            schema_id="default",
            traits={"email": email},
            state="active",
            metadata_public={"plan": "free"},
        ),
    )
    assert replaced.metadata_public == {"plan": "free"}
    patched = identities.patch_identity(
        id=created.id,
        json_patch=[JsonPatch(op="replace", path="/metadata_public", value={"plan": "pro"})],
    )
    assert patched.metadata_public == {"plan": "pro"}
    expect_error(404, lambda: identities.get_identity(id=str(uuid.uuid4())))


@step
def admin_batch_patch_identities():
    ok_id, bad_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = PatchIdentitiesBody(
        identities=[
            IdentityPatch(
                patch_id=ok_id,
                create=CreateIdentityBody(
                    schema_id="default", traits={"email": "batch-" + EMAIL}
                ),
            ),
            IdentityPatch(
                patch_id=bad_id,
                create=CreateIdentityBody(
                    schema_id="default", traits={"email": "not an email"}
                ),
            ),
        ]
    )
    answer = identities.batch_patch_identities(patch_identities_body=body)
    assert isinstance(answer, BatchPatchIdentitiesResponse)
    first, second = answer.identities
    assert first.action == "create" and first.patch_id == ok_id and first.identity
    assert second.action == "error" and second.patch_id == bad_id and second.error
    assert identities.get_identity(id=first.identity).traits["email"] == "batch-" + EMAIL


@step
def admin_delete_credentials():
    linked = identities.create_identity(
        create_identity_body=CreateIdentityBody(
            schema_id="default",
            traits={"email": "linked-" + EMAIL},
            credentials=IdentityWithCredentials(
                password=IdentityWithCredentialsPassword(
                    config=IdentityWithCredentialsPasswordConfig(password=PASSWORD)
                ),
                oidc=IdentityWithCredentialsOidc(
                    config=IdentityWithCredentialsOidcConfig(
                        providers=[
                            IdentityWithCredentialsOidcConfigProvider(
                                provider="acme", subject="s-1"
                            )
                        ]
                    )
                ),
            ),
        )
    )
    expect_error(
        400, lambda: identities.delete_identity_credentials(id=linked.id, type="oidc")
    )
    identities.delete_identity_credentials(id=linked.id, type="oidc", identifier="acme:s-1")
    after = identities.get_identity(id=linked.id, include_credential=["oidc"])
    assert after.credentials["oidc"].identifiers == [], after.credentials
    expect_error(
        400, lambda: identities.delete_identity_credentials(id=linked.id, type="password")
    )
    ident = state["admin_identity"]
    body = expect_error(
        404, lambda: identities.delete_identity_credentials(id=ident, type="totp")
    )
    assert body["error"]["code"] == 404
    # The password is the identity's only first factor: Kratos refuses to remove it.
    expect_error(
        400, lambda: identities.delete_identity_credentials(id=ident, type="password")
    )
    expect_error(
        404,
        lambda: identities.delete_identity_credentials(id=str(uuid.uuid4()), type="password"),
    )


@step
def admin_sessions():
    ident = state["identity"]
    mine = identities.list_identity_sessions(id=ident)
    assert any(s.id == state["session"] for s in mine)
    everyone = identities.list_sessions(page_size=1000, expand=["identity", "devices"])
    found = next(s for s in everyone if s.id == state["session"])
    assert found.identity.id == ident and found.devices is not None
    first = identities.list_sessions(page_size=1)
    assert len(first) == 1
    active = identities.list_sessions(active=True)
    assert all(s.active for s in active)
    one = identities.get_session(id=state["session"], expand=["identity", "devices"])
    assert one.identity.id == ident
    extended = identities.extend_session(id=state["session"])
    assert extended.id == state["session"]
    identities.disable_session(id=state["session"])
    expect_error(401, lambda: frontend.to_session(x_session_token=state["token"]))
    identities.delete_identity_sessions(id=ident)


@step
def admin_schemas_and_courier():
    admin_schemas = identities.list_identity_schemas()
    ids = [s.id for s in admin_schemas]
    assert "default" in ids, ids
    assert identities.get_identity_schema(id="default")["type"] == "object"
    expect_error(404, lambda: identities.get_identity_schema(id="nope"))
    public_schemas = ory.IdentityApi(public_client).list_identity_schemas()
    assert [s.id for s in public_schemas] == ids
    messages = courier.list_courier_messages(page_size=1000)
    assert messages
    one = courier.get_courier_message(id=messages[0].id)
    assert one.id == messages[0].id


@step
def recovery_by_code_and_an_admin_code():
    flow = frontend.create_native_recovery_flow()
    assert flow.type == "api" and flow.state == "choose_method"
    assert frontend.get_recovery_flow(id=flow.id).id == flow.id
    sent = frontend.update_recovery_flow(
        flow=flow.id,
        update_recovery_flow_body=UpdateRecoveryFlowBody(
            UpdateRecoveryFlowWithCodeMethod(method="code", email=EMAIL)
        ),
    )
    assert sent.state == "sent_email", sent.state
    # A code of the wrong shape is a form error (400 with the flow, which the SDK parses).
    body = expect_error(
        400,
        lambda: frontend.update_recovery_flow(
            flow=flow.id,
            update_recovery_flow_body=UpdateRecoveryFlowBody(
                UpdateRecoveryFlowWithCodeMethod(method="code", code="12")
            ),
        ),
    )
    assert RecoveryFlow.from_dict(body).state == "sent_email"
    code = recovery_code_for(EMAIL)
    done = frontend.update_recovery_flow(
        flow=flow.id,
        update_recovery_flow_body=UpdateRecoveryFlowBody(
            UpdateRecoveryFlowWithCodeMethod(method="code", code=code)
        ),
    )
    assert done.state == "passed_challenge", done.state
    actions = [c.actual_instance for c in done.continue_with or []]
    token = next(a for a in actions if a.action == "set_ory_session_token")
    settings_ui = next(a for a in actions if a.action == "show_settings_ui")
    me = frontend.to_session(x_session_token=token.ory_session_token)
    assert me.identity.id == state["identity"]
    frontend.get_settings_flow(id=settings_ui.flow.id, x_session_token=token.ory_session_token)
    issued = identities.create_recovery_code_for_identity(
        create_recovery_code_for_identity_body=CreateRecoveryCodeForIdentityBody(
            identity_id=state["identity"]
        )
    )
    assert issued.recovery_code and issued.recovery_link


@step
def logout_ends_the_session():
    token = login(EMAIL, state["password"]).session_token
    frontend.perform_native_logout(
        perform_native_logout_body=PerformNativeLogoutBody(session_token=token)
    )
    expect_error(401, lambda: frontend.to_session(x_session_token=token))


@step
def admin_delete_identity():
    identities.delete_identity(id=state["admin_identity"])
    expect_error(404, lambda: identities.get_identity(id=state["admin_identity"]))


print(f"{results['passed']} passed, {results['failed']} failed")
sys.exit(1 if results["failed"] else 0)
