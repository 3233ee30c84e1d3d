//! The answers' XML: `<{Action}Response>` in the 2009-04-04 namespace with its `requestId`.

use xmlbind::XmlWriter;

/// The namespace every answer is written in.
pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2009-04-04/";

/// An answer being written: elements in [`NAMESPACE`].
#[derive(Debug)]
pub struct Reply {
    w: XmlWriter,
}

impl Reply {
    /// Starts `<{action}Response>` with its `requestId`.
    pub fn new(action: &str, request_id: &str) -> Self {
        let mut w = XmlWriter::new();
        w.prefer_prefix(NAMESPACE, "ec2");
        w.start_element(Some(NAMESPACE), &format!("{action}Response"));
        let mut reply = Self { w };
        reply.leaf("requestId", request_id);
        reply
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.w.start_element(Some(NAMESPACE), name);
        self.w.text(text);
        self.w.end_element();
        self
    }

    /// Opens `<name>`; [`Reply::close`] ends it.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.w.start_element(Some(NAMESPACE), name);
        self
    }

    pub fn close(&mut self) -> &mut Self {
        self.w.end_element();
        self
    }

    /// `<name>` holding one `<item>` per element of `items`, each written by `write`.
    pub fn items<T>(
        &mut self,
        name: &str,
        items: &[T],
        mut write: impl FnMut(&mut Self, &T),
    ) -> &mut Self {
        self.open(name);
        for item in items {
            self.open("item");
            write(self, item);
            self.close();
        }
        self.close()
    }

    pub fn finish(mut self) -> String {
        self.w.end_element();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
            self.w.finish()
        )
    }
}
