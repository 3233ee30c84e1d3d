//! The WSDL a server hands out on `GET <path>?wsdl`, its `soap:address` set to the address
//! the client used, so that a client reading it posts back to the same place.

use xmlbind::{Element, Limits, XmlError};

/// A WSDL cut at the `location` values of its `soap:address` elements, so that each GET
/// splices in the address the client used without parsing the document again.
#[derive(Debug)]
pub(crate) struct WsdlTemplate {
    pieces: Vec<&'static str>,
}

const WSDL_SOAP11_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
const WSDL_SOAP12_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";

impl WsdlTemplate {
    pub(crate) fn new(wsdl: &'static str) -> Result<Self, XmlError> {
        let root = xmlbind::parse(wsdl.as_bytes(), &Limits::default())?;
        let mut locations = Vec::new();
        collect_address_locations(&root, &mut locations);
        let mut pieces = Vec::new();
        let mut rest = wsdl;
        while let Some((before, after)) = split_at_location(rest, &locations) {
            pieces.push(before);
            rest = after;
        }
        pieces.push(rest);
        Ok(Self { pieces })
    }

    pub(crate) fn render(&self, location: &str) -> String {
        let escaped = location
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;")
            .replace('<', "&lt;");
        self.pieces.join(&escaped)
    }
}

fn collect_address_locations(element: &Element, out: &mut Vec<String>) {
    let ns = element.name.namespace.as_deref();
    if element.name.local == "address" && matches!(ns, Some(WSDL_SOAP11_NS | WSDL_SOAP12_NS)) {
        if let Some(location) = element.attribute(None, "location") {
            out.push(location.to_owned());
        }
    }
    for child in element.elements() {
        collect_address_locations(child, out);
    }
}

/// Splits `text` around the first `location="…"` attribute value found in `locations`:
/// the text before the value and the text after it.
fn split_at_location<'t>(text: &'t str, locations: &[String]) -> Option<(&'t str, &'t str)> {
    let mut from = 0;
    while let Some(found) = text[from..].find("location") {
        let after_name = from + found + "location".len();
        from = after_name;
        let rest = text[after_name..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(quote) = rest.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
            continue;
        };
        let value_start = text.len() - rest.len() + 1;
        let Some(value_len) = text[value_start..].find(quote) else {
            continue;
        };
        let value = &text[value_start..value_start + value_len];
        if locations.iter().any(|l| l == value) {
            return Some((&text[..value_start], &text[value_start + value_len..]));
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const WSDL: &str = r#"<?xml version="1.0"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/">
  <wsdl:import namespace="urn:x" location="other.wsdl"/>
  <wsdl:service name="S"><wsdl:port name="P" binding="b">
    <soap:address location = 'http://spinner:9090/axis2/services/S'/>
  </wsdl:port></wsdl:service>
</wsdl:definitions>"#;

    #[test]
    fn wsdl_address_is_replaced_and_nothing_else() {
        let template = WsdlTemplate::new(WSDL).unwrap();
        let out = template.render("http://10.0.0.1:8775/axis2/services/S");
        assert_eq!(
            out,
            WSDL.replace(
                "http://spinner:9090/axis2/services/S",
                "http://10.0.0.1:8775/axis2/services/S"
            )
        );
        assert!(out.contains(r#"location="other.wsdl""#));
    }

    #[test]
    fn wsdl_location_is_escaped() {
        // A hostile Host header cannot break out of the attribute.
        let out = WsdlTemplate::new(WSDL).unwrap().render("http://a'&<b/");
        assert!(out.contains("location = 'http://a&apos;&amp;&lt;b/'"));
        xmlbind::parse(out.as_bytes(), &Limits::default()).unwrap();
    }
}
