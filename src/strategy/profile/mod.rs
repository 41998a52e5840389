//! The profile method: the identity's traits as form fields (from the identity schema) and
//! the traits object rebuilt from a submitted form.

mod traits;

pub use traits::{identifier_label, trait_nodes, traits_from_fields};

use serde_json::{Map, Value};

use crate::flow::core::messages::{trait_error, trait_error_node};
use crate::flow::core::ui::Ui;
use crate::schema::TraitError;

/// The fields of a profile submission: the traits as submitted (`traits.email`, ...).
#[derive(Debug, Default)]
pub struct ProfileFields {
    pub fields: Map<String, Value>,
}

/// Puts each schema error on the node it belongs to, with Kratos's message id.
pub fn show_trait_errors(ui: &mut Ui, errors: &[TraitError]) {
    for e in errors {
        ui.add_message(Some(&trait_error_node(e)), trait_error(e));
    }
}
