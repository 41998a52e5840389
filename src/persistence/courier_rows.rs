//! The courier's outbox rows: what is queued, what a worker claims, what each attempt left.
//! Message texts arrive here already sealed; this layer never sees a plaintext code.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

/// How a message travels; stored as the message's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
    Voice,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Voice];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Voice => "voice",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    Queued,
    Processing,
    Sent,
    Abandoned,
    Expired,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 5] = [
        Self::Queued,
        Self::Processing,
        Self::Sent,
        Self::Abandoned,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Sent => "sent",
            Self::Abandoned => "abandoned",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Ciphertext of one message field (nonce + AES-256-GCM output). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(pub Vec<u8>);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

/// One outbox row: what `Courier::compose` produces, what `enqueue_message` writes and what a
/// worker claims. `Debug` shows no message text (the fields are sealed anyway).
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub channel: Channel,
    pub status: MessageStatus,
    pub recipient: String,
    pub template_type: String,
    pub subject: Sealed,
    /// The plaintext body for email, the text for SMS and voice.
    pub body: Sealed,
    pub html_body: Option<Sealed>,
    /// The template model as JSON (it holds the code), for HTTP gateways' Jsonnet bodies.
    pub template_data: Sealed,
    /// The channel id: `email`, `sms` or `voice`.
    pub channel_id: String,
    pub send_count: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OutboxMessage {
    /// A message written `abandoned` and never attempted: the decoy composed for an unknown
    /// address so that its send costs what a real one costs.
    pub fn is_decoy(&self) -> bool {
        self.status == MessageStatus::Abandoned && self.send_count == 0
    }

    /// Whether the sealed texts were erased after the message's lifetime.
    pub fn is_purged(&self) -> bool {
        self.body.0.is_empty()
    }
}

/// The lease a worker takes on what it claims: until `until`, renewable only by `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub owner: Uuid,
    pub until: DateTime<Utc>,
}

/// A message a worker has just leased.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub message: OutboxMessage,
    /// Earlier claims that left no recorded attempt: their worker stopped (or lost the
    /// database) after claiming, so the message may already have been delivered.
    pub unrecorded_attempts: u32,
}

/// One attempt to store: its outcome, when it ended, and the unrecorded attempts before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub message_id: Uuid,
    pub result: AttemptResult,
    pub at: DateTime<Utc>,
    pub unrecorded_attempts: u32,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub id: Uuid,
    pub message_id: Uuid,
    pub success: bool,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What a worker learnt from one attempt, to be stored in one short transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Sent,
    /// Try again at `next_attempt_at`.
    Retry {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// No further attempt: permanent failure or retries used up.
    Abandon {
        error: String,
    },
    /// The message's content has expired (its code is dead) before it could be delivered.
    Expire {
        error: String,
    },
}

/// Filters of the admin listing; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<MessageStatus>,
    pub recipient: Option<String>,
    pub channel: Option<Channel>,
}

#[derive(Debug)]
pub struct MessagePage {
    pub messages: Vec<OutboxMessage>,
    pub has_more: bool,
}

#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    pub id: Uuid,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub status: String,
    pub recipient: String,
    pub template_type: String,
    pub subject: Vec<u8>,
    pub body: Vec<u8>,
    pub html_body: Option<Vec<u8>>,
    pub template_data: Vec<u8>,
    pub channel: String,
    pub send_count: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<MessageRow> for OutboxMessage {
    type Error = StoreError;

    fn try_from(r: MessageRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.id,
            channel: Channel::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown message type {:?}", r.kind)))?,
            status: MessageStatus::parse(&r.status).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown message status {:?}", r.status))
            })?,
            recipient: r.recipient,
            template_type: r.template_type,
            subject: Sealed(r.subject),
            body: Sealed(r.body),
            html_body: r.html_body.map(Sealed),
            template_data: Sealed(r.template_data),
            channel_id: r.channel,
            send_count: r.send_count,
            next_attempt_at: r.next_attempt_at,
            lease_expires_at: r.lease_expires_at,
            expires_at: r.expires_at,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ClaimRow {
    #[sqlx(flatten)]
    pub message: MessageRow,
    pub claims: i32,
}

impl TryFrom<ClaimRow> for ClaimedMessage {
    type Error = StoreError;

    fn try_from(r: ClaimRow) -> Result<Self, StoreError> {
        let message = OutboxMessage::try_from(r.message)?;
        // `claims` already counts this claim; every attempt that ended was recorded in
        // `send_count`, so the difference is attempts whose worker never came back.
        let unrecorded = r
            .claims
            .saturating_sub(1)
            .saturating_sub(message.send_count);
        Ok(Self {
            message,
            unrecorded_attempts: u32::try_from(unrecorded).unwrap_or(0),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DispatchRow {
    pub id: Uuid,
    pub message_id: Uuid,
    pub status: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<DispatchRow> for Dispatch {
    fn from(r: DispatchRow) -> Self {
        Self {
            id: r.id,
            message_id: r.message_id,
            success: r.status == "success",
            error: r.error,
            created_at: r.created_at,
        }
    }
}

pub(super) fn messages(rows: Vec<MessageRow>) -> Result<Vec<OutboxMessage>, StoreError> {
    rows.into_iter().map(OutboxMessage::try_from).collect()
}
