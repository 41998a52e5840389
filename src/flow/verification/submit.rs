//! A submission to `POST|GET /self-service/verification?flow=`: Kratos's matrix (§3.2, §3.3,
//! §3.7) as one function per path.

use chrono::{DateTime, Utc};
use rand::RngExt;
use serde_json::json;
use uuid::Uuid;

use super::deliver::Recipient;
use super::service::SubmitContext;
use super::{
    Method, Outcome, State, Submission, VerificationError, VerificationFlow, VerificationService,
};
use crate::config::CodeAlphabet;
use crate::flow::FlowType;
use crate::ratelimit::Rule;
use crate::schema::{Via, normalize_email, normalize_phone};
use crate::text;

pub(super) const HMAC_PURPOSE: &str = "verification";
const LINK_TOKEN_LEN: usize = 32;

pub(super) fn secret_input(flow: Uuid, secret: &str) -> Vec<u8> {
    format!("{flow}:{secret}").into_bytes()
}

/// A code from the OS CSPRNG; `random_range` rejects instead of reducing modulo, so digits
/// are uniform.
pub fn generate_code(length: usize, alphabet: CodeAlphabet) -> String {
    const NUMERIC: &[u8] = b"0123456789";
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let chars = match alphabet {
        CodeAlphabet::Numeric => NUMERIC,
        CodeAlphabet::Alphanumeric => ALNUM,
    };
    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
    (0..length)
        .map(|_| chars[rng.random_range(0..chars.len())] as char)
        .collect()
}

pub(super) fn generate_token() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
    (0..LINK_TOKEN_LEN)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

impl VerificationService {
    pub async fn submit(
        &self,
        id: Uuid,
        sub: Submission,
        ctx: SubmitContext,
        now: DateTime<Utc>,
    ) -> Result<Outcome, VerificationError> {
        let mut flow = self.get(id).await?;
        flow.transient_payload = sub.transient_payload.clone();
        if flow.is_expired(now) {
            let new = self
                .renew(
                    &flow,
                    &ctx,
                    text::verification_expired(flow.expires_at, now),
                    now,
                )
                .await?;
            return Ok(Outcome::FlowExpired { new });
        }
        // A link token is tried before the state is looked at (Kratos's link strategy): a
        // token for a finished flow is simply no longer valid.
        if let Some(token) = sub.token.as_deref().filter(|t| !t.is_empty()) {
            return self.use_link(flow, token, &ctx, now).await;
        }
        if flow.state == State::PassedChallenge {
            let new = self
                .renew(&flow, &ctx, text::verification_already_done(), now)
                .await?;
            return Ok(match flow.active {
                Some(Method::Link) => Outcome::Restarted { new },
                _ => Outcome::Completed { new },
            });
        }
        let method = match sub.method.as_deref().filter(|m| !m.is_empty()) {
            None => self.primary(),
            Some(m) => match Method::parse(m) {
                Some(m) => m,
                None => {
                    clear_messages(&mut flow);
                    flow.ui.add_message(
                        Some("method"),
                        text::reason(r#"value must be one of "code", "link""#),
                    );
                    return self.show_error(flow, now).await;
                }
            },
        };
        if !self.method_enabled(method) || flow.active.is_some_and(|a| a != method) {
            clear_messages(&mut flow);
            flow.ui.messages.push(text::no_strategy_verification());
            return self.show_error(flow, now).await;
        }
        let code = sub.code.as_deref().filter(|c| !c.is_empty());
        match (ctx.is_get, code, sub.email.as_deref()) {
            (true, Some(code), _) => {
                // Opening the emailed link fills the form in; it never consumes the code. The
                // browser that opened it may not be the one that started the flow, so the flow
                // is bound to this browser's CSRF token from now on (Kratos's handleLinkClick).
                flow.ui.set_value("code", json!(code));
                bind_csrf(&mut flow, &ctx);
                self.store.update_verification_flow(&flow, now).await?;
                Ok(Outcome::LinkRedirect { flow })
            }
            (true, None, _) => Ok(Outcome::LinkRedirect { flow }),
            (false, Some(code), _) if method == Method::Code => {
                self.use_code(flow, code, &ctx, now).await
            }
            (false, _, Some(address)) if !address.trim().is_empty() => {
                self.send(flow, method, address, sub.csrf_token.as_deref(), &ctx, now)
                    .await
            }
            _ => {
                clear_messages(&mut flow);
                flow.ui
                    .add_message(Some("email"), text::missing_property("email"));
                self.show_error(flow, now).await
            }
        }
    }

    /// A form error: the flow with its messages, 400 for JSON clients.
    pub(super) async fn show_error(
        &self,
        flow: VerificationFlow,
        now: DateTime<Utc>,
    ) -> Result<Outcome, VerificationError> {
        self.store.update_verification_flow(&flow, now).await?;
        Self::outcome_show(flow, 400)
    }

    pub(super) async fn limit(
        &self,
        rule: Rule,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<(), VerificationError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        match limiter.hit(rule, subject, now).await? {
            Ok(()) => Ok(()),
            Err(limited) => Err(VerificationError::RateLimited(limited.retry_after)),
        }
    }

    async fn send(
        &self,
        mut flow: VerificationFlow,
        method: Method,
        raw: &str,
        csrf: Option<&str>,
        ctx: &SubmitContext,
        now: DateTime<Utc>,
    ) -> Result<Outcome, VerificationError> {
        match (flow.kind, ctx.browser_signal) {
            (FlowType::Browser, _) => {
                let cookie = ctx
                    .csrf_cookie
                    .as_deref()
                    .ok_or(VerificationError::Csrf("the CSRF cookie is missing"))?;
                let submitted =
                    csrf.ok_or(VerificationError::Csrf("the csrf_token field is missing"))?;
                if !crate::csrf::verify(cookie, submitted)
                    || !crate::csrf::verify(&flow.csrf_token, cookie)
                {
                    return Err(VerificationError::Csrf("the CSRF token does not match"));
                }
            }
            // Api flows carry no CSRF token, so a browser must not drive them.
            (FlowType::Api, Some(signal)) => {
                clear_messages(&mut flow);
                flow.ui.set_value("email", json!(raw));
                flow.ui.messages.push(text::reason(signal.reason()));
                return self.show_error(flow, now).await;
            }
            (FlowType::Api, None) => {}
        }
        // An address without `@` is a phone number (Kratos master), when SMS can be sent.
        let as_phone = method == Method::Code && !raw.contains('@') && self.phone_allowed();
        let parsed = if as_phone {
            normalize_phone(raw).map(|v| (Via::Sms, v))
        } else {
            normalize_email(raw).map(|v| (Via::Email, v))
        };
        let (via, address) = match parsed {
            Ok(p) => p,
            Err(_) => {
                clear_messages(&mut flow);
                flow.ui.set_value("email", json!(raw));
                let message = if as_phone {
                    text::invalid_phone(raw)
                } else {
                    text::invalid_email(raw)
                };
                flow.ui.add_message(Some("email"), message);
                return self.show_error(flow, now).await;
            }
        };
        let code_cfg = &self.settings.selfservice.methods.code.config;
        let max_sends = i32::try_from(code_cfg.max_resends).unwrap_or(i32::MAX);
        if flow.send_count >= max_sends {
            let new = self.renew(&flow, ctx, text::too_many_sends(), now).await?;
            return Ok(Outcome::Replaced { new });
        }
        if let Some(client) = &ctx.client {
            self.limit(Rule::SendPerIp, client, now).await?;
        }
        // Keyed by the submitted address, known or not, so limits reveal nothing.
        self.limit(Rule::VerificationSendPerAddressShort, &address, now)
            .await?;
        self.limit(Rule::VerificationSendPerAddressDay, &address, now)
            .await?;

        self.deliver(flow, method, (via, address), Recipient::Lookup, ctx, now)
            .await
    }
}

/// Drops the messages of an earlier submission, on the flow and on its nodes, before a form
/// error adds its own (Kratos re-renders the nodes on every submission).
fn clear_messages(flow: &mut VerificationFlow) {
    flow.ui.messages.clear();
    for node in &mut flow.ui.nodes {
        node.messages.clear();
    }
}

/// Binds a browser flow to the CSRF token of the browser that opened a link from a message.
fn bind_csrf(flow: &mut VerificationFlow, ctx: &SubmitContext) {
    if flow.kind == FlowType::Browser {
        flow.csrf_token = ctx.csrf_for(flow);
        flow.ui
            .set_value("csrf_token", json!(crate::csrf::mask(&flow.csrf_token)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_configured_shape() {
        for len in [4, 6, 10] {
            let c = generate_code(len, CodeAlphabet::Numeric);
            assert_eq!(c.len(), len);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        let c = generate_code(8, CodeAlphabet::Alphanumeric);
        assert!(c.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(generate_token().len(), 32);
    }

    #[test]
    fn digits_are_uniform() {
        // Chi-square over 60k digits, 9 degrees of freedom: p < 0.001 above 27.88.
        let mut counts = [0f64; 10];
        for _ in 0..10_000 {
            for b in generate_code(6, CodeAlphabet::Numeric).bytes() {
                counts[(b - b'0') as usize] += 1.0;
            }
        }
        let expected = 6_000.0;
        let chi: f64 = counts
            .iter()
            .map(|c| (c - expected).powi(2) / expected)
            .sum();
        assert!(chi < 27.88, "chi-square {chi} for {counts:?}");
    }
}
