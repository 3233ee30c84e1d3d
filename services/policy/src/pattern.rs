//! The text patterns of policies: Action and Resource elements (`*` any run, `?` any one
//! character) and condition values, where Version 2012-10-17 also reads policy variables
//! (`${aws:username}`), replaced at evaluation by the request's value taken literally.

use crate::context::Context;

/// How a pattern's text is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (else plain characters, as in StringEquals).
    pub wildcards: bool,
    /// `${key}` is a policy variable (Version 2012-10-17, in Resource and Condition).
    pub variables: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    AnyRun,
    AnyOne,
    /// A context key, lower-cased (keys are case-insensitive).
    Variable(String),
}

/// One pattern, read once when the policy is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    pieces: Vec<Piece>,
}

/// A pattern resolved against a request: characters and wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    AnyOne,
    AnyRun,
}

impl Pattern {
    pub(crate) fn parse(text: &str, syntax: Syntax) -> Self {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let special = match c {
                '*' if syntax.wildcards => Some(Piece::AnyRun),
                '?' if syntax.wildcards => Some(Piece::AnyOne),
                '$' if syntax.variables => variable(rest).map(|(piece, len)| {
                    rest = &rest[len - 1..];
                    piece
                }),
                _ => None,
            };
            match special {
                // `${*}`, `${?}` and `${$}` are the characters themselves.
                Some(Piece::Text(t)) => literal.push_str(&t),
                Some(piece) => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                }
                None => literal.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Self { pieces }
    }

    /// Whether `subject` matches, its variables taken from `context`; a variable the
    /// context lacks matches nothing. `fold_case`: ASCII letters match either case.
    pub(crate) fn matches(&self, subject: &str, fold_case: bool, context: &Context) -> bool {
        let mut tokens = Vec::with_capacity(subject.len());
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => tokens.extend(t.chars().map(Token::Char)),
                Piece::AnyRun => tokens.push(Token::AnyRun),
                Piece::AnyOne => tokens.push(Token::AnyOne),
                Piece::Variable(key) => match context.get(key) {
                    Some(value) => tokens.extend(value.chars().map(Token::Char)),
                    None => return false,
                },
            }
        }
        let subject: Vec<char> = subject.chars().collect();
        glob(&tokens, &subject, fold_case)
    }
}

/// The variable at the start of `text` (which starts with `$`) and the bytes it spans.
fn variable(text: &str) -> Option<(Piece, usize)> {
    let inner = text.strip_prefix("${")?;
    let end = inner.find('}')?;
    let name = inner[..end].trim();
    let piece = match name {
        "*" | "?" | "$" => Piece::Text(name.to_owned()),
        _ if name.is_empty() => return None,
        _ => Piece::Variable(name.to_ascii_lowercase()),
    };
    Some((piece, end + 3))
}

/// Wildcard matching with one backtracking point (the last `*`): linear in practice,
/// O(pattern × subject) at worst, never exponential.
fn glob(pattern: &[Token], subject: &[char], fold_case: bool) -> bool {
    let same = |a: char, b: char| a == b || (fold_case && a.eq_ignore_ascii_case(&b));
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        match pattern.get(p) {
            Some(Token::AnyOne) => (p, s) = (p + 1, s + 1),
            Some(Token::Char(c)) if same(*c, subject[s]) => (p, s) = (p + 1, s + 1),
            Some(Token::AnyRun) => {
                star = Some((p, s));
                p += 1;
            }
            _ => match star {
                Some((star_p, star_s)) => {
                    star = Some((star_p, star_s + 1));
                    (p, s) = (star_p + 1, star_s + 1);
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|t| *t == Token::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WILD: Syntax = Syntax {
        wildcards: true,
        variables: true,
    };

    fn matches(pattern: &str, subject: &str) -> bool {
        let context = Context::new().with("aws:username", "bob*");
        Pattern::parse(pattern, WILD).matches(subject, false, &context)
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything at all"));
        assert!(matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/k/deep"));
        assert!(!matches("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("a*b*c", "aXXbYYbZc"));
        assert!(!matches("a*b*c", "aXXbYYbZ"));
        assert!(matches("**x", "x"));
        assert!(!matches("abc", "ABC"), "case counts unless folded");
        assert!(Pattern::parse("ec2:describe*", WILD).matches(
            "EC2:DescribeInstances",
            true,
            &Context::new()
        ));
    }

    #[test]
    fn variables_are_replaced_literally() {
        // The user's name holds a '*', which must not widen the pattern.
        assert!(matches("home/${aws:username}/*", "home/bob*/x"));
        assert!(!matches("home/${aws:username}/*", "home/bobby/x"));
        assert!(matches("home/${ AWS:UserName }", "home/bob*"));
        assert!(!matches("home/${aws:userid}", "home/"), "unknown variable");
        assert!(matches("a${*}b${?}${$}", "a*b?$"));
        assert!(matches("cost$5 ${unclosed", "cost$5 ${unclosed"));
    }

    #[test]
    fn without_variables_or_wildcards_the_text_is_plain() {
        let plain = Pattern::parse(
            "${aws:username}*?",
            Syntax {
                wildcards: false,
                variables: false,
            },
        );
        assert!(plain.matches("${aws:username}*?", false, &Context::new()));
        assert!(!plain.matches("bob*?", false, &Context::new()));
        assert!(!plain.matches("${aws:username}xy", false, &Context::new()));
    }

    #[test]
    fn a_hostile_pattern_stays_fast() {
        // Guards against exponential backtracking on many stars.
        let pattern = "*a".repeat(50) + "b";
        let subject = "a".repeat(2000);
        assert!(!matches(&pattern, &subject));
    }
}
