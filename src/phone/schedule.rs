//! The voice fallback (seed 002). The schedule lives in `phone_verifications` (`step`,
//! `next_step_at`), so a restart loses nothing: step 0 → 1 calls with the same code (valid
//! until the SMS code expires), step 1 → 2 calls with a new code valid
//! `second_code_lifespan`. A verified or failed request has no `next_step_at`, which cancels it;
//! so does a call the SMS policy refuses (`protection.sms`, caps included).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::keys;
use super::service::{PhoneError, PhoneService, SEAL_FIELD};
use crate::courier::Channel;
use crate::persistence::Sealed;
use crate::persistence::phone::{Advance, DueStep};

const BATCH: i64 = 100;

impl PhoneService {
    /// Runs every step due at `now`; answers how many calls were queued.
    pub async fn run_due_fallbacks(&self, now: DateTime<Utc>) -> Result<usize, PhoneError> {
        let due = self.store.due_phone_steps(now, BATCH).await?;
        let mut queued = 0;
        for step in due {
            // A call is a message too: the SMS policy and its daily caps apply.
            if let Err(refused) = self
                .policy
                .admit(Channel::Voice, &step.phone_number, now)
                .await?
            {
                tracing::debug!(
                    reason = refused.refusal.reason(),
                    "voice fallback cancelled"
                );
                self.store.stop_phone_fallback(&step.id, step.step).await?;
                continue;
            }
            let Some(advance) = self.plan(&step, now)? else {
                continue;
            };
            if self.store.advance_phone_step(&advance).await? {
                queued += 1;
            }
        }
        Ok(queued)
    }

    fn plan(&self, s: &DueStep, now: DateTime<Utc>) -> Result<Option<Advance>, PhoneError> {
        let (code, new_code, expires_at, next_step_at) = match s.step {
            0 => {
                let same = Uuid::parse_str(&s.id).ok().and_then(|u| {
                    let sealed = Sealed(s.code_sealed.clone()?);
                    self.sealer.open_string(u, SEAL_FIELD, &sealed).ok()
                });
                match same {
                    Some(code) => (code, false, s.expires_at, Some(s.expires_at)),
                    // The sealing key died with a restart (no secret configured): a new code.
                    None => (keys::new_code(), true, s.expires_at, Some(s.expires_at)),
                }
            }
            1 => {
                let lifespan = self.cfg.voice_fallback.second_code_lifespan.chrono();
                (keys::new_code(), true, now + lifespan, None)
            }
            _ => return Ok(None),
        };
        let message = self.compose(
            Channel::Voice,
            &s.phone_number,
            &s.sender_name,
            &code,
            expires_at,
            now,
        )?;
        Ok(Some(Advance {
            id: s.id.clone(),
            from_step: s.step,
            new_code_hmac: new_code.then(|| self.code_hmac(&s.id, &code)),
            code_sealed: None,
            expires_at,
            next_step_at,
            message,
            now,
        }))
    }

    /// Polls for due steps until `stop` turns true (the courier worker's shutdown signal).
    pub async fn run_fallbacks(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let every = self.cfg.voice_fallback.poll_interval.std();
        loop {
            if let Err(e) = self.run_due_fallbacks(Utc::now()).await {
                tracing::warn!(error = %e, "phone verification fallback failed");
            }
            tokio::select! {
                _ = stop.changed() => {}
                () = tokio::time::sleep(every) => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}
