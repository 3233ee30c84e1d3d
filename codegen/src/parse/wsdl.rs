//! `wsdl:message`, `wsdl:portType`, `wsdl:binding` and `wsdl:service` → [`PortType`]s.
//!
//! Only document/literal SOAP bindings of request-response operations whose messages have a
//! single `element` part are supported. Declared faults are not typed: handlers answer with
//! `soap::Fault`.

use std::collections::HashMap;

use super::{Node, SOAP11_BINDING_NS, SOAP12_BINDING_NS, WSDL_NS};
use crate::error::Error;
use crate::model::{ElementId, Operation, PortType, QName};

pub(super) fn port_types(
    root: Node<'_>,
    elements: &HashMap<QName, ElementId>,
) -> Result<Vec<PortType>, Error> {
    let target_namespace = root.required("targetNamespace")?;
    let qname = |node: Node<'_>| {
        node.required("name")
            .map(|local| QName::new(Some(target_namespace), local))
    };
    let mut messages = HashMap::new();
    let mut port_types = Vec::new();
    let mut bindings = Vec::new();
    let mut services = Vec::new();
    for child in root.children() {
        // Elements of other namespaces are extensions (policies and the like) that do not
        // change the messages.
        if child.element.name.namespace.as_deref() != Some(WSDL_NS) {
            continue;
        }
        match child.local() {
            "documentation" | "types" => {}
            "message" => {
                if messages
                    .insert(qname(child)?, message_element(child, elements)?)
                    .is_some()
                {
                    return Err(child.invalid(format!(
                        "message {} is defined twice",
                        child.required("name")?
                    )));
                }
            }
            "portType" => port_types.push((qname(child)?, child)),
            "binding" => bindings.extend(binding(child, qname(child)?)?),
            "service" => services.push(child),
            _ => return Err(child.unsupported_wsdl()),
        }
    }
    port_types
        .into_iter()
        .map(|(name, node)| port_type(node, &name, &messages, &bindings, &services))
        .collect()
}

/// The global element a message carries.
fn message_element(
    message: Node<'_>,
    elements: &HashMap<QName, ElementId>,
) -> Result<ElementId, Error> {
    let parts: Vec<Node<'_>> = message
        .children()
        .filter(|c| c.is(WSDL_NS, "part"))
        .collect();
    let [part] = parts.as_slice() else {
        return Err(message.unsupported_wsdl_as(format!("wsdl:message with {} parts", parts.len())));
    };
    let Some(element) = part.qname("element")? else {
        return Err(part.unsupported_wsdl_as("wsdl:part without element= (rpc style)".into()));
    };
    elements
        .get(&element)
        .copied()
        .ok_or_else(|| Error::Undefined {
            at: part.at(),
            what: "element",
            name: element.to_string(),
        })
}

#[derive(Debug)]
struct Binding<'d> {
    name: QName,
    port_type: QName,
    soap12: bool,
    /// Operation name → SOAPAction, in binding order.
    actions: Vec<(String, String, Node<'d>)>,
}

/// A SOAP binding; `None` for bindings of other protocols (HTTP GET/POST, MIME).
fn binding<'d>(node: Node<'d>, name: QName) -> Result<Option<Binding<'d>>, Error> {
    let soap = node
        .children()
        .find(|c| c.is(SOAP11_BINDING_NS, "binding") || c.is(SOAP12_BINDING_NS, "binding"));
    let Some(soap) = soap else { return Ok(None) };
    let soap_ns = if soap.is(SOAP11_BINDING_NS, "binding") {
        SOAP11_BINDING_NS
    } else {
        SOAP12_BINDING_NS
    };
    document_style(soap)?;
    let port_type = node
        .qname("type")?
        .ok_or_else(|| node.invalid("wsdl:binding without type".into()))?;
    let mut actions = Vec::new();
    for operation in node.children().filter(|c| c.is(WSDL_NS, "operation")) {
        let mut action = String::new();
        for child in operation.children() {
            if child.is(soap_ns, "operation") {
                document_style(child)?;
                action = child.attr("soapAction").unwrap_or_default().to_owned();
            } else if child.is(WSDL_NS, "input") || child.is(WSDL_NS, "output") {
                literal_body(child, soap_ns)?;
            }
        }
        actions.push((operation.required("name")?.to_owned(), action, operation));
    }
    Ok(Some(Binding {
        name,
        port_type,
        soap12: soap_ns == SOAP12_BINDING_NS,
        actions,
    }))
}

fn document_style(node: Node<'_>) -> Result<(), Error> {
    match node.attr("style") {
        None | Some("document") => Ok(()),
        Some(style) => {
            Err(node.unsupported_wsdl_as(format!("{} style={style:?}", node.construct())))
        }
    }
}

/// The input or output of a binding operation must be a literal body and nothing else.
fn literal_body(node: Node<'_>, soap_ns: &str) -> Result<(), Error> {
    for child in node.children() {
        if child.is(soap_ns, "body") {
            if let Some(usage) = child.attr("use").filter(|u| *u != "literal") {
                return Err(child.unsupported_wsdl_as(format!("soap:body use={usage:?}")));
            }
        } else if !child.is(WSDL_NS, "documentation") {
            return Err(child.unsupported_wsdl());
        }
    }
    Ok(())
}

fn port_type(
    node: Node<'_>,
    name: &QName,
    messages: &HashMap<QName, ElementId>,
    bindings: &[Binding<'_>],
    services: &[Node<'_>],
) -> Result<PortType, Error> {
    // A SOAP 1.1 binding is preferred: it is what the original stacks speak.
    let binding = bindings
        .iter()
        .filter(|b| b.port_type == *name)
        .min_by_key(|b| b.soap12)
        .ok_or_else(|| node.invalid(format!("portType {} has no SOAP binding", name.local)))?;
    let mut operations: Vec<Operation> = Vec::new();
    for operation in node.children().filter(|c| c.is(WSDL_NS, "operation")) {
        let op_name = operation.required("name")?;
        if operations.iter().any(|o| o.name == op_name) {
            return Err(
                operation.unsupported_wsdl_as(format!("overloaded wsdl:operation {op_name}"))
            );
        }
        let soap_action = binding
            .actions
            .iter()
            .find(|(n, _, _)| n == op_name)
            .map(|(_, action, _)| action.clone())
            .ok_or_else(|| {
                operation.invalid(format!(
                    "binding {} has no operation {op_name}",
                    binding.name.local
                ))
            })?;
        let (input, output) = input_output(operation, messages)?;
        operations.push(Operation {
            name: op_name.to_owned(),
            soap_action,
            input,
            output,
            at: operation.at(),
        });
    }
    if let Some((extra, _, at)) = binding
        .actions
        .iter()
        .find(|(n, _, _)| !operations.iter().any(|o| o.name == *n))
    {
        return Err(at.invalid(format!(
            "binding operation {extra} is not in portType {}",
            name.local
        )));
    }
    Ok(PortType {
        name: name.local.clone(),
        service: service_name(services, &binding.name)?.unwrap_or_else(|| name.local.clone()),
        operations,
        at: node.at(),
    })
}

/// The input and output messages' elements of a request-response operation.
fn input_output(
    operation: Node<'_>,
    messages: &HashMap<QName, ElementId>,
) -> Result<(ElementId, ElementId), Error> {
    let mut ios = operation
        .children()
        .filter(|c| c.is(WSDL_NS, "input") || c.is(WSDL_NS, "output"));
    let (Some(input), Some(output), None) = (ios.next(), ios.next(), ios.next()) else {
        return Err(
            operation.unsupported_wsdl_as("wsdl:operation that is not request-response".into())
        );
    };
    if !input.is(WSDL_NS, "input") || !output.is(WSDL_NS, "output") {
        return Err(
            operation.unsupported_wsdl_as("wsdl:operation that is not request-response".into())
        );
    }
    let element = |io: Node<'_>| -> Result<ElementId, Error> {
        let message = io
            .qname("message")?
            .ok_or_else(|| io.invalid(format!("{} without message", io.construct())))?;
        messages
            .get(&message)
            .copied()
            .ok_or_else(|| Error::Undefined {
                at: io.at(),
                what: "message",
                name: message.to_string(),
            })
    };
    Ok((element(input)?, element(output)?))
}

/// The name of the service with a port of `binding`.
fn service_name(services: &[Node<'_>], binding: &QName) -> Result<Option<String>, Error> {
    for service in services {
        for port in service.children().filter(|c| c.is(WSDL_NS, "port")) {
            if port.qname("binding")?.as_ref() == Some(binding) {
                return Ok(Some(service.required("name")?.to_owned()));
            }
        }
    }
    Ok(None)
}
