//! What a page says in its own words on top of a flow's nodes: code inputs as numeric
//! one-time codes, settings' section headings and button labels, a saved-what message, the
//! flow messages a page's lead already says, and a line after a resend saying when the new
//! code went out.

use serde_json::{Value, json};

use super::Page;
use crate::flow::core::{Flow, Method, State};

/// Flow messages a page's own lead replaces: "a code (or link) was sent" of each kind.
const SENT_MESSAGES: [u64; 6] = [1080001, 1080003, 1080004, 1060002, 1060003, 1010014];

/// The flow's `ui` as the page renders it: the "sent" messages dropped when the page says
/// it itself, and settings' 1050001 saying what was saved.
pub fn ui_json(page: &Page, flow: &Flow, lead_says_sent: bool) -> Value {
    let mut ui = serde_json::to_value(&flow.ui).unwrap_or(Value::Null);
    if let Some(list) = ui.get_mut("messages").and_then(Value::as_array_mut) {
        if lead_says_sent {
            list.retain(|m| {
                !m["id"]
                    .as_u64()
                    .is_some_and(|id| SENT_MESSAGES.contains(&id))
            });
        }
        let saved = match flow.active {
            Some(Method::Password) => Some("settings_saved_password"),
            Some(Method::Profile) => Some("settings_saved_profile"),
            _ => None,
        };
        if let (State::Success, Some(key)) = (flow.state, saved) {
            for m in list.iter_mut().filter(|m| m["id"] == 1050001) {
                m["text"] = json!(page.text(key));
                m.as_object_mut().map(|o| o.remove("id"));
            }
        }
    }
    ui
}

/// Calls `f` with each node of every form and the name of its group.
fn each_node(form: &mut Value, mut f: impl FnMut(&str, &mut Value)) {
    let Some(forms) = form.get_mut("forms").and_then(Value::as_array_mut) else {
        return;
    };
    for form in forms {
        let Some(groups) = form.get_mut("groups").and_then(Value::as_array_mut) else {
            continue;
        };
        for g in groups {
            let name = g["name"].as_str().unwrap_or("").to_owned();
            if let Some(nodes) = g.get_mut("nodes").and_then(Value::as_array_mut) {
                for n in nodes {
                    f(&name, n);
                }
            }
        }
    }
}

/// Calls `f` with each group of every form.
fn each_group(form: &mut Value, mut f: impl FnMut(&mut Value)) {
    let Some(forms) = form.get_mut("forms").and_then(Value::as_array_mut) else {
        return;
    };
    for form in forms {
        if let Some(groups) = form.get_mut("groups").and_then(Value::as_array_mut) {
            groups.iter_mut().for_each(&mut f);
        }
    }
}

/// Code inputs get `autocomplete=one-time-code` and, for numeric codes, `inputmode=numeric`.
pub fn code_inputs(form: &mut Value, numeric: bool) {
    each_node(form, |_, n| {
        if n["name"] == "code" && n["is_input"] == true && n["is_hidden"] != true {
            n["autocomplete"] = json!("one-time-code");
            if numeric {
                n["inputmode"] = json!("numeric");
            }
        }
    });
}

/// Settings: a heading per section, buttons that say what they save, "New password".
pub fn settings_sections(form: &mut Value, page: &Page) {
    each_group(form, |g| {
        let heading = match g["name"].as_str() {
            Some("profile") => "settings_profile_heading",
            Some("password") => "settings_password_heading",
            _ => return,
        };
        g["heading"] = json!(page.text(heading));
    });
    each_node(form, |group, n| {
        let name = n["name"].as_str().map(str::to_owned);
        match (group, name.as_deref(), n["is_button"] == true) {
            ("profile", Some("method"), true) => {
                n["label"] = json!(page.text("settings_save_profile"))
            }
            ("password", Some("method"), true) => {
                n["label"] = json!(page.text("settings_save_password"));
            }
            ("password", Some("password"), false) => {
                n["label"] = json!(page.text("settings_new_password"));
            }
            _ => {}
        }
    });
}

/// "A new code was sent at 10:42 (UTC)." after a resend, else nothing.
pub fn resent_line(page: &Page, flow: &Flow) -> Option<String> {
    if flow.state != State::SentEmail || flow.challenge.send_count < 2 {
        return None;
    }
    let time = flow.updated_at.format("%H:%M").to_string();
    let ctx = json!({"time": time});
    crate::ui::catalogue::fill(&page.text("code_resent_at"), ctx.as_object()?)
}

/// "We sent a code to a***@example.com. Enter it below." for a flow waiting on a code.
pub fn sent_line(page: &Page, flow: &Flow, key: &str) -> Option<String> {
    let address = (flow.state == State::SentEmail)
        .then(|| flow.challenge.sent_to.clone())
        .flatten()
        .filter(|a| !a.starts_with("identity:"))?;
    let ctx = json!({"address": crate::ui::mask_address(&address)});
    crate::ui::catalogue::fill(&page.text(key), ctx.as_object()?)
}

/// The sign-in form's "Send sign in code" needs no password: that button skips the browser's
/// check of the required fields of the password method (the server checks what it needs).
pub fn code_button_skips_password(form: &mut Value) {
    each_node(form, |group, n| {
        if group == "code" && n["name"] == "method" && n["value"] == "code" {
            n["formnovalidate"] = json!(true);
            n["primary"] = json!(false);
        }
    });
}
