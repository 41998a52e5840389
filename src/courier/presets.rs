//! Ready-made gateways: Twilio (Messages API for SMS, Calls API with TwiML `<Say>` for voice)
//! and Vonage (SMS API). Each takes a `base_url`, so tests and regional endpoints can be used.

use reqwest::StatusCode;
use serde_json::Value;

use super::backoff::SendError;
use crate::config::Sensitive;
use crate::persistence::Channel;

pub const TWILIO_BASE: &str = "https://api.twilio.com";
pub const VONAGE_BASE: &str = "https://rest.nexmo.com";

#[derive(Clone)]
pub struct Twilio {
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: Sensitive,
    pub from: String,
}

#[derive(Clone)]
pub struct Vonage {
    pub base_url: String,
    pub api_key: String,
    pub api_secret: Sensitive,
    pub from: String,
}

/// One prepared gateway call: URL, basic-auth pair and form fields.
pub struct FormRequest {
    pub url: String,
    pub basic_auth: Option<(String, String)>,
    pub form: Vec<(&'static str, String)>,
}

fn trim_base(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// Escapes text for XML (TwiML) and HTML (the dev inbox).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Twilio {
    pub fn request(&self, channel: Channel, to: &str, text: &str) -> FormRequest {
        let base = format!(
            "{}/2010-04-01/Accounts/{}",
            trim_base(&self.base_url),
            self.account_sid
        );
        let (url, content) = match channel {
            Channel::Voice => (
                format!("{base}/Calls.json"),
                (
                    "Twiml",
                    format!("<Response><Say>{}</Say></Response>", xml_escape(text)),
                ),
            ),
            _ => (format!("{base}/Messages.json"), ("Body", text.to_owned())),
        };
        FormRequest {
            url,
            basic_auth: Some((
                self.account_sid.clone(),
                self.auth_token.expose().to_owned(),
            )),
            form: vec![("To", to.to_owned()), ("From", self.from.clone()), content],
        }
    }

    /// Twilio answers 201 on success and a JSON `{code, message}` on failure.
    pub fn check(status: StatusCode, body: &str) -> Option<String> {
        if status.is_success() {
            return None;
        }
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        Some(format!(
            "Twilio {} (error {}): {}",
            status.as_u16(),
            v["code"],
            v["message"].as_str().unwrap_or("no message")
        ))
    }
}

impl Vonage {
    pub fn request(&self, to: &str, text: &str) -> FormRequest {
        FormRequest {
            url: format!("{}/sms/json", trim_base(&self.base_url)),
            basic_auth: None,
            form: vec![
                ("api_key", self.api_key.clone()),
                ("api_secret", self.api_secret.expose().to_owned()),
                ("from", self.from.clone()),
                ("to", to.trim_start_matches('+').to_owned()),
                ("text", text.to_owned()),
            ],
        }
    }

    /// Vonage answers 200 even for failures: each message carries a `status`, "0" meaning
    /// accepted and "1" throttled (retry); anything else is final.
    pub fn check(body: &str) -> Result<(), SendError> {
        let v: Value = serde_json::from_str(body)
            .map_err(|_| SendError::transient("Vonage answered with something other than JSON"))?;
        let Some(messages) = v["messages"].as_array().filter(|m| !m.is_empty()) else {
            return Err(SendError::transient(
                "Vonage answered without a message status",
            ));
        };
        for m in messages {
            let status = m["status"].as_str().unwrap_or("?");
            if status == "0" {
                continue;
            }
            let text = format!(
                "Vonage status {status}: {}",
                m["error-text"].as_str().unwrap_or("no error text")
            );
            return Err(if status == "1" {
                SendError::transient(text)
            } else {
                SendError::permanent(text)
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_voice_says_escaped_twiml() {
        let t = Twilio {
            base_url: "http://127.0.0.1:9/".into(),
            account_sid: "AC123".into(),
            auth_token: Sensitive::new("tok"),
            from: "+15550001".into(),
        };
        let r = t.request(Channel::Voice, "+15550002", "Code <1 2 3> & more");
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/2010-04-01/Accounts/AC123/Calls.json"
        );
        assert!(r.form.contains(&(
            "Twiml",
            "<Response><Say>Code &lt;1 2 3&gt; &amp; more</Say></Response>".into()
        )));
        let r = t.request(Channel::Sms, "+15550002", "hi");
        assert!(r.url.ends_with("/Messages.json"));
        assert!(r.form.contains(&("Body", "hi".into())));
    }

    #[test]
    fn vonage_statuses_are_classified() {
        assert!(Vonage::check(r#"{"messages":[{"status":"0"}]}"#).is_ok());
        assert!(matches!(
            Vonage::check(r#"{"messages":[{"status":"1","error-text":"Throttled"}]}"#),
            Err(SendError::Transient { .. })
        ));
        assert!(matches!(
            Vonage::check(r#"{"messages":[{"status":"3","error-text":"Invalid to"}]}"#),
            Err(SendError::Permanent { .. })
        ));
        assert!(Vonage::check("oops").is_err());
    }
}
