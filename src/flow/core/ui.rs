//! The UI container a flow carries, so any Kratos UI can render it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::text::Text;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ui {
    pub action: String,
    pub method: String,
    pub nodes: Vec<Node>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    #[serde(rename = "type")]
    pub kind: String,
    pub group: String,
    pub attributes: Map<String, Value>,
    pub messages: Vec<Text>,
    pub meta: Meta,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Text>,
}

/// An `<input>` node. `value` None leaves the attribute out; Kratos emits `""` as a value.
pub struct Input<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub group: &'a str,
    pub value: Option<Value>,
    pub required: bool,
    pub autocomplete: Option<&'a str>,
    pub label: Option<Text>,
}

impl Input<'_> {
    pub fn node(self) -> Node {
        let mut a = Map::new();
        a.insert("name".into(), json!(self.name));
        a.insert("type".into(), json!(self.kind));
        if let Some(v) = self.value {
            a.insert("value".into(), v);
        }
        if self.required {
            a.insert("required".into(), json!(true));
        }
        if let Some(ac) = self.autocomplete {
            a.insert("autocomplete".into(), json!(ac));
        }
        a.insert("disabled".into(), json!(false));
        a.insert("node_type".into(), json!("input"));
        Node {
            kind: "input".into(),
            group: self.group.into(),
            attributes: a,
            messages: Vec::new(),
            meta: Meta { label: self.label },
        }
    }
}

pub fn csrf_node(token: &str) -> Node {
    Input {
        name: "csrf_token",
        kind: "hidden",
        group: "default",
        value: Some(json!(token)),
        required: true,
        autocomplete: None,
        label: None,
    }
    .node()
}

pub fn anchor(group: &str, href: &str, title: Text, id: &str) -> Node {
    let mut a = Map::new();
    a.insert("href".into(), json!(href));
    a.insert("title".into(), json!(title));
    a.insert("id".into(), json!(id));
    a.insert("node_type".into(), json!("a"));
    Node {
        kind: "a".into(),
        group: group.into(),
        attributes: a,
        messages: Vec::new(),
        meta: Meta { label: Some(title) },
    }
}

impl Ui {
    pub fn node_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.nodes
            .iter_mut()
            .find(|n| n.attributes.get("name").and_then(Value::as_str) == Some(name))
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.attributes.get("name").and_then(Value::as_str) == Some(name))
    }

    /// Sets an input's value (the first node with that name whose type is not submit).
    pub fn set_value(&mut self, name: &str, value: Value) {
        let node = self.nodes.iter_mut().find(|n| {
            n.attributes.get("name").and_then(Value::as_str) == Some(name)
                && n.attributes.get("type").and_then(Value::as_str) != Some("submit")
        });
        if let Some(n) = node {
            n.attributes.insert("value".into(), value);
        }
    }

    /// Puts a message on the named node, or on the flow when there is no such node.
    pub fn add_message(&mut self, node: Option<&str>, text: Text) {
        match node.and_then(|n| self.node_mut(n)) {
            Some(n) => n.messages.push(text),
            None => self.messages.push(text),
        }
    }
}

impl Ui {
    /// Drops the messages of an earlier submission, on the flow and on its nodes, before a
    /// new one adds its own (Kratos re-renders the nodes on every submission).
    pub fn clear_messages(&mut self) {
        self.messages.clear();
        for node in &mut self.nodes {
            node.messages.clear();
        }
    }
}
