//! Where types contain themselves: a field whose value leads back to its own type needs a
//! `Box` (unless a list is in between), and a sample value must stop there.

use std::collections::HashSet;

use super::context::{complex_of, Context, Field, FieldKind, Through, ValueNode};
use crate::model::{Occurs, TypeRef};

impl Context<'_> {
    /// The node a value of `ty` is, in the by-value containment graph.
    fn value_node(&self, ty: TypeRef) -> Option<ValueNode> {
        let id = complex_of(ty)?;
        Some(if self.derived.contains_key(&id) {
            ValueNode::Derived(id)
        } else {
            ValueNode::Struct(id)
        })
    }

    fn edges(&self, node: ValueNode, through: Through) -> Vec<ValueNode> {
        let counts = |occurs: Occurs| through == Through::Lists || !occurs.is_repeated();
        match node {
            ValueNode::Struct(id) => self
                .fields(id)
                .iter()
                .filter_map(|f| match f.kind {
                    FieldKind::Element(e) if counts(e.occurs) => self.value_node(e.ty),
                    FieldKind::Choice(c) if counts(c.occurs) => Some(ValueNode::Choice(c.id)),
                    _ => None,
                })
                .collect(),
            ValueNode::Derived(id) => self.derived[&id]
                .variants
                .iter()
                .map(|(v, _)| ValueNode::Struct(*v))
                .collect(),
            ValueNode::Choice(id) => self.choices[&id]
                .particle
                .alternatives
                .iter()
                .filter_map(|e| self.value_node(e.ty))
                .collect(),
        }
    }

    /// Whether a value of `ty` held by value in `owner` would make `owner` contain itself.
    pub fn needs_box(&self, owner: ValueNode, ty: TypeRef) -> bool {
        self.value_node(ty)
            .is_some_and(|from| self.contains(from, owner, Through::Values))
    }

    /// Whether a value of `ty` can contain an `owner`, even through lists.
    pub fn recursive(&self, owner: ValueNode, ty: TypeRef) -> bool {
        self.value_node(ty)
            .is_some_and(|from| self.contains(from, owner, Through::Lists))
    }

    /// Whether a struct field holds its single value in a `Box` (lists never need one).
    pub fn field_boxed(&self, owner: ValueNode, field: &Field<'_>) -> bool {
        match field.kind {
            FieldKind::Element(e) => !e.occurs.is_repeated() && self.needs_box(owner, e.ty),
            FieldKind::Choice(c) => {
                !c.occurs.is_repeated()
                    && self.contains(ValueNode::Choice(c.id), owner, Through::Values)
            }
            FieldKind::Attribute(_) | FieldKind::Text(_) => false,
        }
    }

    /// Whether a value of `from` contains a value of `to`, directly or not.
    pub fn contains(&self, from: ValueNode, to: ValueNode, through: Through) -> bool {
        if let Some(known) = self.reach_cache.borrow().get(&(from, to, through)) {
            return *known;
        }
        let mut seen = HashSet::new();
        let mut stack = vec![from];
        let mut found = false;
        while let Some(node) = stack.pop() {
            if node == to {
                found = true;
                break;
            }
            if seen.insert(node) {
                stack.extend(self.edges(node, through));
            }
        }
        self.reach_cache
            .borrow_mut()
            .insert((from, to, through), found);
        found
    }
}
