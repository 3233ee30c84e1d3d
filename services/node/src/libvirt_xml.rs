//! A small writer for libvirt's namespace-less XML documents (domains and hot-plugged disks).

use xmlbind::XmlWriter;

/// A small layer over [`XmlWriter`] for libvirt's namespace-less documents.
#[derive(Debug, Default)]
pub struct Xml(XmlWriter);

impl Xml {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.0.start_element(None, name);
        for (key, value) in attributes {
            self.0.attribute(None, key, value);
        }
    }

    pub fn close(&mut self) {
        self.0.end_element();
    }

    pub fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.open(name, attributes);
        self.close();
    }

    pub fn text(&mut self, text: &str) {
        self.0.text(text);
    }

    pub fn leaf(&mut self, name: &str, text: &str) {
        self.open(name, &[]);
        self.text(text);
        self.close();
    }

    pub fn finish(self) -> String {
        self.0.finish()
    }
}
