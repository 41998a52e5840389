//! Delivery policy for messages that cost money or reach people.

pub mod sms_policy;
