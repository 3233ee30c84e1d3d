//! Input that would generate clashing Rust names, or operations that cannot be routed, is
//! refused with the places involved.

use std::collections::HashMap;

use super::context::{describe_field, field_location, Context, Item};
use crate::error::{Error, Location};
use crate::names;

impl Context<'_> {
    /// Operation elements must be namespace-qualified: the dispatcher routes on the name.
    pub(super) fn check_operations(&self) -> Result<(), Error> {
        for operation in self.model.port_types.iter().flat_map(|p| &p.operations) {
            for element in [operation.input, operation.output].map(|e| self.model.element(e)) {
                if element.name.namespace.is_none() {
                    return Err(Error::Invalid {
                        at: element.at.clone(),
                        message: format!(
                            "element {} has no namespace, so operation {} cannot be routed by it",
                            element.name.local, operation.name
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Every generated item must have its own name in the module, every field, method and
    /// variant its own name in its item.
    pub(super) fn check_names(&self) -> Result<(), Error> {
        let mut items = Vec::new();
        for item in self.items() {
            items.push(match item {
                Item::Struct(id) => {
                    let ty = self.model.complex(id);
                    (
                        self.complex_names[id.0].clone(),
                        self.describe(&ty.name),
                        &ty.at,
                    )
                }
                Item::Choice(choice) => (
                    choice.name.clone(),
                    self.describe_choice(choice.particle),
                    &choice.particle.at,
                ),
                Item::Derived(id) => {
                    let ty = self.model.complex(id);
                    let what = format!("the types extending {}", self.describe(&ty.name));
                    (self.derived[&id].name.clone(), what, &ty.at)
                }
                Item::Enumeration(id, _) | Item::Alias(id, _) => {
                    let ty = self.model.simple(id);
                    (
                        self.simple_names[id.0].clone(),
                        self.describe(&ty.name),
                        &ty.at,
                    )
                }
            });
            self.check_members(item)?;
        }
        for port_type in &self.model.port_types {
            let trait_name = names::item_name(&port_type.name);
            for rust in [
                format!("{trait_name}Server"),
                format!("{trait_name}Client"),
                trait_name.clone(),
            ] {
                items.push((rust, format!("portType {}", port_type.name), &port_type.at));
            }
            let methods = port_type.operations.iter().map(|operation| {
                (
                    names::field_name(&operation.name),
                    format!("operation {}", operation.name),
                    &operation.at,
                )
            });
            unique(&trait_name, methods)?;
        }
        unique("", items)
    }

    fn check_members(&self, item: Item<'_>) -> Result<(), Error> {
        match item {
            Item::Struct(id) => {
                let ty = self.model.complex(id);
                let fields = self.fields(id).iter().filter(|f| f.is_stored());
                let fields =
                    fields.map(|f| (f.name.clone(), describe_field(f), field_location(f, &ty.at)));
                unique(&self.complex_names[id.0], fields)
            }
            Item::Choice(choice) => {
                let variants = choice.particle.alternatives.iter().map(|alternative| {
                    let local = &alternative.name.local;
                    (
                        names::type_name(local),
                        format!("element {local}"),
                        &alternative.at,
                    )
                });
                unique(&choice.name, variants)
            }
            Item::Enumeration(id, values) => {
                let at = &self.model.simple(id).at;
                let variants = values
                    .iter()
                    .map(|value| (names::type_name(value), format!("value {value:?}"), at));
                unique(&self.simple_names[id.0], variants)
            }
            // Variants of a derived enum are named after the types, which are unique.
            Item::Derived(_) | Item::Alias(..) => Ok(()),
        }
    }
}

/// Fails on the first Rust name claimed twice in `scope` (empty for the module): each entry
/// is the Rust name, what claims it, and where.
fn unique<'a>(
    scope: &str,
    names: impl IntoIterator<Item = (String, String, &'a Location)>,
) -> Result<(), Error> {
    let mut seen: HashMap<String, (String, &Location)> = HashMap::new();
    for (rust, what, at) in names {
        if let Some((first, first_at)) = seen.get(&rust) {
            let rust = if scope.is_empty() {
                rust
            } else {
                format!("{scope}::{rust}")
            };
            return Err(Error::NameClash {
                at: at.clone(),
                second: what,
                first: format!("{first} (at {first_at})"),
                rust,
            });
        }
        seen.insert(rust, (what, at));
    }
    Ok(())
}
