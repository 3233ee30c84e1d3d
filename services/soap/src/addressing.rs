//! WS-Addressing 1.0 (2005/08) message headers: `wsa:To`, `wsa:MessageID`, `wsa:Action` and
//! `wsa:RelatesTo`, written as header blocks and read back from the Header's direct children.

use xmlbind::{ElementRef, XmlWriter};

use crate::error::SoapError;
use crate::wss::WSU_NS;

/// WS-Addressing 1.0 namespace.
pub const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";

/// WS-Addressing 2005/08 headers of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressing {
    pub to: Option<String>,
    pub action: Option<String>,
    pub message_id: Option<String>,
    pub relates_to: Option<String>,
}

/// One of the headers we write and read, in the order we write them (and index them by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    To,
    MessageId,
    Action,
    RelatesTo,
}

impl Field {
    pub(crate) const ALL: [Field; 4] =
        [Field::To, Field::MessageId, Field::Action, Field::RelatesTo];

    pub(crate) fn local(self) -> &'static str {
        match self {
            Self::To => "To",
            Self::MessageId => "MessageID",
            Self::Action => "Action",
            Self::RelatesTo => "RelatesTo",
        }
    }
}

impl Addressing {
    pub(crate) fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::To => self.to.as_deref(),
            Field::MessageId => self.message_id.as_deref(),
            Field::Action => self.action.as_deref(),
            Field::RelatesTo => self.relates_to.as_deref(),
        }
    }

    fn slot(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::To => &mut self.to,
            Field::MessageId => &mut self.message_id,
            Field::Action => &mut self.action,
            Field::RelatesTo => &mut self.relates_to,
        }
    }

    /// These headers with only `fields` kept.
    pub(crate) fn only(&self, fields: &[Field]) -> Self {
        let mut kept = Self::default();
        for field in fields {
            *kept.slot(*field) = self.get(*field).map(str::to_owned);
        }
        kept
    }

    pub(crate) fn is_empty(&self) -> bool {
        Field::ALL.iter().all(|f| self.get(*f).is_none())
    }

    /// Writes the headers that have a value; `id` gives the `wsu:Id` of those to be signed.
    pub(crate) fn write<'a>(&self, w: &mut XmlWriter, id: impl Fn(Field) -> Option<&'a str>) {
        for field in Field::ALL {
            if let Some(value) = self.get(field) {
                w.start_element(Some(WSA_NS), field.local());
                if let Some(id) = id(field) {
                    w.attribute(Some(WSU_NS), "Id", id);
                }
                w.text(value);
                w.end_element();
            }
        }
    }
}

/// The addressing header blocks of a received message, as elements, so that the security
/// layer can check that the ones it verified are the ones read.
#[derive(Debug, Default)]
pub(crate) struct Headers<'a> {
    elements: [Option<ElementRef<'a>>; 4],
}

impl<'a> Headers<'a> {
    /// Reads the direct children of `header`. A header present twice is refused: which copy
    /// counts would otherwise depend on who reads it (a signed one and an unsigned impostor).
    pub(crate) fn read(header: Option<ElementRef<'a>>) -> Result<Self, SoapError> {
        let mut headers = Self::default();
        for element in header.into_iter().flat_map(ElementRef::elements) {
            let Some(field) = Field::ALL
                .into_iter()
                .find(|f| element.name().is(Some(WSA_NS), f.local()))
            else {
                continue;
            };
            if headers.elements[field as usize].replace(element).is_some() {
                return Err(SoapError::DuplicateHeader(element.name().expanded()));
            }
        }
        Ok(headers)
    }

    pub(crate) fn element(&self, field: Field) -> Option<ElementRef<'a>> {
        self.elements[field as usize]
    }

    pub(crate) fn values(&self) -> Result<Addressing, SoapError> {
        let mut addressing = Addressing::default();
        for field in Field::ALL {
            if let Some(element) = self.element(field) {
                *addressing.slot(field) = Some(element.text()?.trim().to_owned());
            }
        }
        Ok(addressing)
    }
}
