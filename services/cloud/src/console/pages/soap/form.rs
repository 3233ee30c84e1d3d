//! A request's form as HTML: one input per field of [`wire::catalog::form::Form`], named by
//! its path, in fieldsets that follow the request's nesting; each repeated element has its
//! row count (`rows:PATH`), each empty element a box that sends it.

use maud::{html, Markup};
use wire::catalog::form::{self, Choice, Field, Form, Group, Part, Repeated, MAX_DEPTH, MAX_ROWS};
use wire::catalog::{Builtin, Simple};

/// The name of the input holding the row count of the repeated element `key`.
pub fn rows_input(key: &str) -> String {
    format!("rows:{key}")
}

/// The form's inputs, filled with `values` (by path), else with each field's default.
pub fn render<'v>(form: &Form, values: &dyn Fn(&str) -> Option<&'v str>) -> Markup {
    group(&form.root, values)
}

fn id(path: &str) -> String {
    format!("in-{path}")
}

fn group<'v>(group: &Group, values: &dyn Fn(&str) -> Option<&'v str>) -> Markup {
    let type_name = match group.xsi_type {
        Some((_, name)) => format!("xsi:type {name}"),
        None => group.ty.name.to_owned(),
    };
    html! {
        fieldset.group {
            legend { (group.element.name) " " span.note { (type_name) } }
            @if let Some(presence) = &group.presence {
                label {
                    input type="checkbox" name=(presence) checked[values(presence).is_some_and(|v| !v.is_empty())];
                    " send this element"
                }
            }
            @for part in &group.parts { (self::part(part, values)) }
        }
    }
}

fn part<'v>(part: &Part, values: &dyn Fn(&str) -> Option<&'v str>) -> Markup {
    match part {
        Part::Field(f) => field(f, values),
        Part::Group(g) => group(g, values),
        Part::Repeated(r) => repeated(r, values),
        Part::Choice(c) => choice("one of", c, values),
        Part::Derived(c) => choice("one xsi:type of", c, values),
        Part::Truncated { name, .. } => html! {
            p.note { (name) ": nested deeper than " (MAX_DEPTH) " levels, left out" }
        },
    }
}

fn repeated<'v>(repeated: &Repeated, values: &dyn Fn(&str) -> Option<&'v str>) -> Markup {
    let input = rows_input(&repeated.key);
    let max = repeated
        .occurs
        .max
        .map_or(MAX_ROWS, |m| (m as usize).min(MAX_ROWS));
    html! {
        div.repeated {
            label for=(id(&input)) {
                "Rows of " (repeated.name) " " span.note { "(" (form::occurs_label(repeated.occurs)) ")" }
            }
            input type="number" id=(id(&input)) name=(input) value=(repeated.rows.len())
                min=(repeated.occurs.min) max=(max);
            @for row in &repeated.rows { (part(row, values)) }
        }
    }
}

fn choice<'v>(what: &str, choice: &Choice, values: &dyn Fn(&str) -> Option<&'v str>) -> Markup {
    html! {
        fieldset.choice {
            legend { (what) @if choice.required { " (required: the first if none is filled)" } }
            @for alternative in &choice.alternatives { (part(alternative, values)) }
        }
    }
}

fn field<'v>(field: &Field, values: &dyn Fn(&str) -> Option<&'v str>) -> Markup {
    let current = values(&field.path)
        .map(str::to_owned)
        .or_else(|| field.default.clone())
        .unwrap_or_default();
    let options: Option<Vec<&str>> = match field.ty {
        Simple::Enumeration(values) => Some(values.to_vec()),
        Simple::Builtin(Builtin::Boolean) => Some(vec!["true", "false"]),
        Simple::Builtin(_) => None,
    };
    html! {
        div.field {
            label for=(id(&field.path)) {
                (field.name) " "
                span.note { (form::type_label(field.ty)) @if field.required { ", required" } }
            }
            @match options {
                Some(options) => select id=(id(&field.path)) name=(field.path) {
                    option value="" selected[current.is_empty()] { "" }
                    @for option in options {
                        option value=(option) selected[current == option] { (option) }
                    }
                },
                None => input type="text" id=(id(&field.path)) name=(field.path) value=(current);,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation of every component's services renders, each input once, named by
    /// its path.
    #[test]
    fn every_operation_renders_each_input_once() {
        use super::super::targets::Component;
        let mut operations = 0;
        for component in Component::ALL {
            for service in component.services() {
                for operation in service.operations {
                    let form = form::layout(operation, &|_| None);
                    let html = render(&form, &|_| None).into_string();
                    for input in form.inputs() {
                        let name = format!("name=\"{}\"", html! { (input.path()) }.into_string());
                        assert_eq!(
                            html.matches(&name).count(),
                            1,
                            "{} in {}",
                            input.path(),
                            operation.soap.name
                        );
                    }
                    operations += 1;
                }
            }
        }
        // The console offers every generated SOAP service: all but IAM and CloudWatch, which
        // are Query only.
        let soap: usize = wire::catalog::SERVICES
            .iter()
            .filter(|s| !["IAMPortType", "CloudWatchPortType"].contains(&s.port_type))
            .map(|s| s.operations.len())
            .sum();
        assert_eq!(operations, soap);
    }
}
