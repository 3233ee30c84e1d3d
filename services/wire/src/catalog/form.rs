//! A request as a form: [`layout`] turns an operation's request tree into parts (groups,
//! fields, repeated rows, choices), each input named by its path in the request
//! (`instancesSet/item[2]/instanceId`, `@attr` for attributes); [`build`] reads the values
//! given for those paths back into the request element, checking each value against its XML
//! Schema type. Both walk the same layout, so a form and the request it sends cannot disagree.
//!
//! Paths: an element's name, with `[N]` (from 1) when it repeats; `/` between levels;
//! `@name` for an attribute; `text()` for a simple-content value; `(Type)` for the members
//! of one `xsi:type` of a derived type. A repeated element's row count is asked by its path
//! without the index ([`Repeated::key`]).

use xmlbind::{Base64Binary, DateTime, ToXml, XmlText, XmlWriter, XSI_NS};

use super::{Attribute, Builtin, Complex, Element, Member, Occurs, Operation, Simple, Type};

/// How deep groups nest below the request element before the form stops (recursive types).
pub const MAX_DEPTH: usize = 8;
/// The most rows a repeated element is given.
pub const MAX_ROWS: usize = 20;

/// The form of one operation's request.
#[derive(Debug)]
pub struct Form {
    pub operation: &'static Operation,
    /// The request element.
    pub root: Group,
}

/// One occurrence of a complex element.
#[derive(Debug)]
pub struct Group {
    pub element: &'static Element,
    pub path: String,
    /// The complex type (the variant, for a derived type's).
    pub ty: &'static Complex,
    /// The `xsi:type` written on the element, for a derived type's variant.
    pub xsi_type: Option<(Option<&'static str>, &'static str)>,
    /// Present whatever the form holds (it and every group above it are required).
    pub always: bool,
    /// A type with no inputs (an empty element) is sent when this path's box is checked.
    pub presence: Option<String>,
    pub parts: Vec<Part>,
}

#[derive(Debug)]
pub enum Part {
    Field(Field),
    Group(Group),
    Repeated(Repeated),
    /// One occurrence of an `xs:choice`: the alternative whose inputs are filled is sent.
    Choice(Choice),
    /// An element of a derived type: one group per `xsi:type`, the filled one sent.
    Derived(Choice),
    /// A group nested deeper than [`MAX_DEPTH`], left out of the form.
    Truncated {
        path: String,
        name: &'static str,
    },
}

/// An element that may repeat: its rows, each a field, a group or a choice.
#[derive(Debug)]
pub struct Repeated {
    /// The path without the row index: the name of its row count.
    pub key: String,
    pub name: &'static str,
    pub occurs: Occurs,
    pub rows: Vec<Part>,
}

#[derive(Debug)]
pub struct Choice {
    pub path: String,
    pub required: bool,
    pub alternatives: Vec<Part>,
}

/// One input: a simple element, an attribute or a simple-content value.
#[derive(Debug)]
pub struct Field {
    pub path: String,
    pub name: &'static str,
    pub target: Target,
    pub ty: Simple,
    /// Sent even when empty (an empty string, or `xsi:nil`), else refused.
    pub required: bool,
    /// What a fresh form holds: a valid value for fields that are always sent, else nothing.
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub enum Target {
    Element(&'static Element),
    Attribute(&'static Attribute),
    /// The text of the enclosing group's element.
    Text,
}

/// One input of a form.
#[derive(Debug, Clone, Copy)]
pub enum Input<'f> {
    Field(&'f Field),
    /// The box that sends an empty element ([`Group::presence`]).
    Presence(&'f str),
}

impl<'f> Input<'f> {
    pub fn path(self) -> &'f str {
        match self {
            Self::Field(field) => &field.path,
            Self::Presence(path) => path,
        }
    }
}

impl Form {
    /// Every input, in form order.
    pub fn inputs(&self) -> Vec<Input<'_>> {
        let mut out = Vec::new();
        group_inputs(&self.root, &mut out);
        out
    }
}

fn group_inputs<'a>(group: &'a Group, out: &mut Vec<Input<'a>>) {
    out.extend(group.presence.as_deref().map(Input::Presence));
    for part in &group.parts {
        part_inputs(part, out);
    }
}

fn part_inputs<'a>(part: &'a Part, out: &mut Vec<Input<'a>>) {
    match part {
        Part::Field(f) => out.push(Input::Field(f)),
        Part::Group(g) => group_inputs(g, out),
        Part::Repeated(r) => r.rows.iter().for_each(|p| part_inputs(p, out)),
        Part::Choice(c) | Part::Derived(c) => {
            c.alternatives.iter().for_each(|p| part_inputs(p, out))
        }
        Part::Truncated { .. } => {}
    }
}

/// The form of `operation`'s request, with `rows(key)` rows for each repeated element (by
/// default its minimum, at least one; at most [`MAX_ROWS`] and its maximum).
pub fn layout(operation: &'static Operation, rows: &dyn Fn(&str) -> Option<usize>) -> Form {
    let root = &operation.request;
    let ty = match root.ty {
        Type::Complex(ty) => ty,
        // Generated request elements are complex: a simple one has nothing to fill in but
        // its text, which an empty type's group cannot hold.
        Type::Simple(_) | Type::Derived(_) => &EMPTY,
    };
    let mut layout = Layout { rows, depth: 0 };
    let root = layout.group(root, String::new(), ty, None, true);
    Form { operation, root }
}

static EMPTY: Complex = Complex {
    name: "",
    members: &[],
};

struct Layout<'r> {
    rows: &'r dyn Fn(&str) -> Option<usize>,
    depth: usize,
}

impl Layout<'_> {
    fn group(
        &mut self,
        element: &'static Element,
        path: String,
        ty: &'static Complex,
        xsi_type: Option<(Option<&'static str>, &'static str)>,
        always: bool,
    ) -> Group {
        self.depth += 1;
        let parts: Vec<Part> = ty
            .members
            .iter()
            .filter_map(|member| self.member(member, &path, always))
            .collect();
        self.depth -= 1;
        let has_inputs = parts.iter().any(|p| {
            let mut inputs = Vec::new();
            part_inputs(p, &mut inputs);
            !inputs.is_empty()
        });
        let presence = (!always && !has_inputs).then(|| join(&path, "?"));
        Group {
            element,
            path,
            ty,
            xsi_type,
            always,
            presence,
            parts,
        }
    }

    /// The part of one member; none for a fixed attribute, which is always written.
    fn member(&mut self, member: &'static Member, parent: &str, always: bool) -> Option<Part> {
        Some(match member {
            Member::Attribute(a) if a.fixed.is_some() => return None,
            Member::Attribute(a) => Part::Field(field(
                join(parent, &format!("@{}", a.name)),
                a.name,
                Target::Attribute(a),
                a.ty,
                a.required,
                always && a.required,
            )),
            Member::Text(ty) => Part::Field(field(
                join(parent, "text()"),
                "text()",
                Target::Text,
                *ty,
                true,
                always,
            )),
            Member::Element(e) => self.element(e, parent, always),
            Member::Choice(c) => {
                let key = join(parent, "choice");
                let occurrence = |layout: &mut Self, index: Option<usize>, required: bool| {
                    Part::Choice(Choice {
                        path: indexed(&key, index),
                        required,
                        alternatives: c
                            .alternatives
                            .iter()
                            .map(|a| {
                                layout.occurrence(a, join(parent, &indexed(a.name, index)), false)
                            })
                            .collect(),
                    })
                };
                if c.occurs.is_repeated() {
                    let rows = self.row_count(&key, c.occurs);
                    Part::Repeated(Repeated {
                        rows: (1..=rows)
                            .map(|i| {
                                occurrence(self, Some(i), always && i <= c.occurs.min as usize)
                            })
                            .collect(),
                        key,
                        name: "choice",
                        occurs: c.occurs,
                    })
                } else {
                    occurrence(self, None, always && c.occurs.min > 0)
                }
            }
        })
    }

    fn element(&mut self, element: &'static Element, parent: &str, always: bool) -> Part {
        let key = join(parent, element.name);
        if !element.occurs.is_repeated() {
            return self.occurrence(element, key, always && element.occurs.min > 0);
        }
        let rows = self.row_count(&key, element.occurs);
        Part::Repeated(Repeated {
            rows: (1..=rows)
                .map(|i| {
                    let required = always && i <= element.occurs.min as usize;
                    self.occurrence(element, indexed(&key, Some(i)), required)
                })
                .collect(),
            key,
            name: element.name,
            occurs: element.occurs,
        })
    }

    /// One occurrence of `element` at `path`; `always`: it is sent whatever the form holds.
    fn occurrence(&mut self, element: &'static Element, path: String, always: bool) -> Part {
        let required = element.occurs.min > 0;
        match element.ty {
            Type::Simple(ty) => Part::Field(field(
                path,
                element.name,
                Target::Element(element),
                ty,
                required,
                always,
            )),
            _ if self.depth > MAX_DEPTH => Part::Truncated {
                path,
                name: element.name,
            },
            Type::Complex(ty) => Part::Group(self.group(element, path, ty, None, always)),
            Type::Derived(variants) => Part::Derived(Choice {
                alternatives: variants
                    .iter()
                    .map(|v| {
                        let variant_path = join(&path, &format!("({})", v.name));
                        let xsi_type = Some((v.namespace, v.name));
                        Part::Group(self.group(element, variant_path, v.ty, xsi_type, false))
                    })
                    .collect(),
                path,
                required: always,
            }),
        }
    }

    /// The rows of a repeated element: as asked, else its minimum (at least one), within
    /// its bounds and [`MAX_ROWS`] (which wins over a larger minimum).
    fn row_count(&self, key: &str, occurs: Occurs) -> usize {
        let max = occurs.max.map_or(MAX_ROWS, |m| (m as usize).min(MAX_ROWS));
        let min = (occurs.min as usize).min(max);
        (self.rows)(key).unwrap_or(min.max(1)).clamp(min, max)
    }
}

fn field(
    path: String,
    name: &'static str,
    target: Target,
    ty: Simple,
    required: bool,
    always: bool,
) -> Field {
    let default = always.then(|| default_value(ty)).flatten();
    Field {
        path,
        name,
        target,
        ty,
        required,
        default,
    }
}

/// A value of `ty` for a field that is always sent; strings stay empty.
fn default_value(ty: Simple) -> Option<String> {
    let value = match ty {
        Simple::Enumeration(values) => values.first()?,
        Simple::Builtin(Builtin::Boolean) => "false",
        Simple::Builtin(Builtin::Int | Builtin::Long | Builtin::UnsignedInt)
        | Simple::Builtin(Builtin::UnsignedLong | Builtin::Double) => "0",
        Simple::Builtin(Builtin::DateTime) => "1970-01-01T00:00:00Z",
        Simple::Builtin(Builtin::String | Builtin::Base64Binary) => return None,
    };
    Some(value.to_owned())
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}/{child}")
    }
}

fn indexed(path: &str, index: Option<usize>) -> String {
    match index {
        Some(i) => format!("{path}[{i}]"),
        None => path.to_owned(),
    }
}

/// Why a form's values do not make a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// The request element the form's `values` (by path; empty means absent) make.
pub fn build<'v>(
    form: &Form,
    values: &dyn Fn(&str) -> Option<&'v str>,
) -> Result<Request, Vec<Problem>> {
    let mut builder = Builder {
        values,
        problems: Vec::new(),
    };
    let root = builder.group(&form.root, false);
    match (root, builder.problems.is_empty()) {
        (Some(root), true) => Ok(root),
        (_, true) => Err(vec![Problem {
            path: form.operation.request.name.to_owned(),
            message: "the request is empty".into(),
        }]),
        (_, false) => Err(builder.problems),
    }
}

/// A request element built from a form, written with [`ToXml`] (escaping included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub namespace: Option<&'static str>,
    pub name: &'static str,
    pub attributes: Vec<(Option<&'static str>, &'static str, String)>,
    pub xsi_type: Option<(Option<&'static str>, &'static str)>,
    pub nil: bool,
    pub text: Option<String>,
    pub children: Vec<Request>,
}

impl Request {
    fn new(element: &'static Element) -> Self {
        Self {
            namespace: element.namespace,
            name: element.name,
            attributes: Vec::new(),
            xsi_type: None,
            nil: false,
            text: None,
            children: Vec::new(),
        }
    }
}

impl ToXml for Request {
    fn write_content(&self, w: &mut XmlWriter) {
        if let Some((namespace, local)) = self.xsi_type {
            w.qname_attribute(Some(XSI_NS), "type", namespace.unwrap_or_default(), local);
        }
        if self.nil {
            w.attribute(Some(XSI_NS), "nil", "true");
        }
        for (namespace, local, value) in &self.attributes {
            w.attribute(*namespace, local, value);
        }
        if let Some(text) = &self.text {
            w.text(text);
        }
        for child in &self.children {
            child.to_xml(w, child.namespace, child.name);
        }
    }
}

struct Builder<'f, 'v> {
    values: &'f dyn Fn(&str) -> Option<&'v str>,
    problems: Vec<Problem>,
}

impl Builder<'_, '_> {
    fn value(&self, path: &str) -> Option<&str> {
        (self.values)(path).filter(|v| !v.is_empty())
    }

    /// Whether any input under `part` holds a value.
    fn filled(&self, part: &Part) -> bool {
        let mut inputs = Vec::new();
        part_inputs(part, &mut inputs);
        inputs
            .iter()
            .any(|input| self.value(input.path()).is_some())
    }

    /// The element of `group` when it is sent: always, when `forced` (a choice's sent
    /// alternative) or when any of its inputs holds a value.
    fn group(&mut self, group: &Group, forced: bool) -> Option<Request> {
        let filled = group.parts.iter().any(|p| self.filled(p))
            || group
                .presence
                .as_deref()
                .is_some_and(|p| self.value(p).is_some());
        if !group.always && !forced && !filled {
            return None;
        }
        let mut request = Request::new(group.element);
        request.xsi_type = group.xsi_type;
        for member in group.ty.members {
            if let Member::Attribute(Attribute {
                namespace,
                name,
                fixed: Some(fixed),
                ..
            }) = member
            {
                request
                    .attributes
                    .push((*namespace, name, (*fixed).to_owned()));
            }
        }
        for part in &group.parts {
            self.part(part, &mut request);
        }
        Some(request)
    }

    fn part(&mut self, part: &Part, into: &mut Request) {
        match part {
            Part::Field(field) => self.field(field, into),
            Part::Group(group) => into.children.extend(self.group(group, false)),
            Part::Repeated(repeated) => {
                for row in &repeated.rows {
                    self.part(row, into);
                }
            }
            Part::Choice(choice) | Part::Derived(choice) => {
                let chosen: Vec<&Part> = choice
                    .alternatives
                    .iter()
                    .filter(|a| self.filled(a))
                    .collect();
                match chosen.as_slice() {
                    [one] => self.chosen(one, into),
                    [] if choice.required => {
                        if let Some(first) = choice.alternatives.first() {
                            self.chosen(first, into);
                        }
                    }
                    [] => {}
                    _ => self.problem(&choice.path, "fill in only one of the alternatives"),
                }
            }
            Part::Truncated { .. } => {}
        }
    }

    /// The alternative of a choice that is sent, as if required.
    fn chosen(&mut self, part: &Part, into: &mut Request) {
        match part {
            Part::Field(field) if self.value(&field.path).is_none() => {
                self.problem(&field.path, "a value is required");
            }
            Part::Group(group) => into.children.extend(self.group(group, true)),
            other => self.part(other, into),
        }
    }

    fn field(&mut self, field: &Field, into: &mut Request) {
        let text = match self.value(&field.path) {
            Some(text) => match check(field.ty, text) {
                Ok(()) => Some(text.to_owned()),
                Err(message) => return self.problem(&field.path, &message),
            },
            None if !field.required => return,
            None => None,
        };
        let nillable = matches!(field.target, Target::Element(e) if e.nillable);
        // A required string (or base64 data) may be empty; another required value must be
        // given or nil.
        let text = match text {
            Some(text) => Some(text),
            None if nillable => None,
            None if matches!(
                field.ty,
                Simple::Builtin(Builtin::String | Builtin::Base64Binary)
            ) =>
            {
                Some(String::new())
            }
            None => return self.problem(&field.path, "a value is required"),
        };
        match field.target {
            Target::Element(element) => {
                let mut child = Request::new(element);
                child.nil = text.is_none();
                child.text = text;
                into.children.push(child);
            }
            Target::Attribute(attribute) => into.attributes.push((
                attribute.namespace,
                attribute.name,
                text.unwrap_or_default(),
            )),
            Target::Text => into.text = text,
        }
    }

    fn problem(&mut self, path: &str, message: &str) {
        self.problems.push(Problem {
            path: path.to_owned(),
            message: message.to_owned(),
        });
    }
}

/// Whether `text` is a value of `ty`; the message says what is expected.
fn check(ty: Simple, text: &str) -> Result<(), String> {
    let ok = match ty {
        Simple::Enumeration(values) => {
            return values
                .contains(&text)
                .then_some(())
                .ok_or_else(|| format!("expected one of {}", values.join(", ")))
        }
        Simple::Builtin(builtin) => match builtin {
            Builtin::String => true,
            Builtin::Int => i32::from_text(text).is_ok(),
            Builtin::Long => i64::from_text(text).is_ok(),
            Builtin::UnsignedInt => u32::from_text(text).is_ok(),
            Builtin::UnsignedLong => u64::from_text(text).is_ok(),
            Builtin::Boolean => bool::from_text(text).is_ok(),
            Builtin::Double => f64::from_text(text).is_ok(),
            Builtin::DateTime => DateTime::from_text(text).is_ok(),
            Builtin::Base64Binary => Base64Binary::from_text(text).is_ok(),
        },
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{text:?} is not an {}", type_label(ty)))
    }
}

/// How a form names a simple type: `xs:int`, or `enumeration`.
pub fn type_label(ty: Simple) -> &'static str {
    match ty {
        Simple::Builtin(builtin) => builtin.xsd_name(),
        Simple::Enumeration(_) => "enumeration",
    }
}

/// `0..1`, `1..*`: how a form shows an element's occurrences.
pub fn occurs_label(occurs: Occurs) -> String {
    match occurs.max {
        Some(max) => format!("{}..{max}", occurs.min),
        None => format!("{}..*", occurs.min),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SOAP: soap::Operation = soap::Operation {
        name: "Op",
        soap_action: "",
        request: ("urn:t", "Op"),
        response: ("urn:t", "OpResponse"),
    };

    const fn strings(name: &'static str, min: u32, max: Option<u32>) -> Member {
        Member::Element(Element {
            namespace: None,
            name,
            occurs: Occurs { min, max },
            nillable: false,
            ty: Type::Simple(Simple::Builtin(Builtin::String)),
        })
    }

    static LISTS: Complex = Complex {
        name: "lists",
        members: &[strings("many", 25, None), strings("few", 0, Some(3))],
    };

    static OPERATION: Operation = Operation {
        soap: &SOAP,
        request: Element {
            namespace: Some("urn:t"),
            name: "Op",
            occurs: Occurs::ONCE,
            nillable: false,
            ty: Type::Complex(&LISTS),
        },
    };

    fn rows(asked: Option<usize>) -> Vec<usize> {
        let form = layout(&OPERATION, &|_| asked);
        form.root
            .parts
            .iter()
            .map(|p| match p {
                Part::Repeated(r) => r.rows.len(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    /// Guards the row bounds: a minimum above MAX_ROWS once made `clamp` panic.
    #[test]
    fn rows_stay_within_the_elements_bounds_and_max_rows() {
        assert_eq!(rows(None), [MAX_ROWS, 1]);
        assert_eq!(rows(Some(100)), [MAX_ROWS, 3]);
        assert_eq!(rows(Some(0)), [MAX_ROWS, 0]);
    }
}
