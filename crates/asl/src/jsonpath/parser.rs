//! The JSONPath parser: text to segments, with Jayway's syntax and AWS's restrictions.

use super::*;

// Parser

#[derive(Debug, Clone, Copy)]
pub(super) struct SegmentInfo {
    pub(super) position: usize,
    /// Written as `.name` rather than `['name']`.
    pub(super) dotted: bool,
}

/// Filters nest paths that nest filters; past this depth the text is refused rather than
/// risking the stack.
pub(super) const MAX_NESTING: usize = 64;

pub(super) struct Parser<'a> {
    pub(super) text: &'a str,
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
    pub(super) end: usize,
    pub(super) depth: usize,
}

pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        // Jayway trims the path before reading it.
        let mut pos = 0;
        let mut end = bytes.len();
        while pos < end && is_space(bytes[pos]) {
            pos += 1;
        }
        while end > pos && is_space(bytes[end - 1]) {
            end -= 1;
        }
        Self { text, bytes, pos, end, depth: 0 }
    }

    pub(super) fn err(&self, position: usize, what: impl fmt::Display) -> PathSyntaxError {
        PathSyntaxError::new(self.text, position, what)
    }

    pub(super) fn peek(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.bytes[self.pos])
    }

    pub(super) fn peek_at(&self, offset: usize) -> Option<u8> {
        let at = self.pos + offset;
        (at < self.end).then(|| self.bytes[at])
    }

    pub(super) fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    pub(super) fn expect(&mut self, b: u8, what: &str) -> Result<(), PathSyntaxError> {
        self.skip_space();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(self.pos, format_args!("expected {what}")))
        }
    }

    pub(super) fn parse_root(mut self) -> Result<Vec<(Segment, SegmentInfo)>, PathSyntaxError> {
        match self.peek() {
            None => return Err(self.err(self.pos, "the path is empty")),
            Some(b'$') => self.pos += 1,
            Some(_) => return Err(self.err(self.pos, "a path must start with '$'")),
        }
        let segments = self.parse_segments(false)?;
        if self.pos < self.end {
            return Err(self.err(self.pos, "unexpected character"));
        }
        Ok(segments)
    }

    /// Segments after `$` or `@`. Inside a filter (`embedded`) the path ends at the first
    /// character that cannot continue it; at the top level it must reach the end.
    pub(super) fn parse_segments(&mut self, embedded: bool) -> Result<Vec<(Segment, SegmentInfo)>, PathSyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(self.pos, "the path nests too deeply"));
        }
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                b'.' if self.peek_at(1) == Some(b'.') => {
                    self.pos += 2;
                    out.push((Segment::Scan, SegmentInfo { position: start, dotted: false }));
                    match self.peek() {
                        None => return Err(self.err(self.pos, "a path must not end with '..'")),
                        Some(b'.') => return Err(self.err(self.pos, "'...' is not valid")),
                        Some(b'[') => out.push(self.parse_bracket()?),
                        Some(b'*') => out.push(self.parse_dot_wildcard(embedded)?),
                        Some(_) => out.push(self.parse_dot_name(embedded)?),
                    }
                }
                b'.' => {
                    self.pos += 1;
                    match self.peek() {
                        None => return Err(self.err(self.pos, "a path must not end with '.'")),
                        // Jayway accepts `$.['a']` as `$['a']`.
                        Some(b'[') => out.push(self.parse_bracket()?),
                        Some(b'*') => out.push(self.parse_dot_wildcard(embedded)?),
                        Some(_) => out.push(self.parse_dot_name(embedded)?),
                    }
                }
                b'[' => out.push(self.parse_bracket()?),
                _ if embedded => break,
                _ => return Err(self.err(start, "expected '.' or '['")),
            }
        }
        self.depth -= 1;
        Ok(out)
    }

    pub(super) fn parse_dot_wildcard(&mut self, embedded: bool) -> Result<(Segment, SegmentInfo), PathSyntaxError> {
        let start = self.pos;
        self.pos += 1;
        match self.peek() {
            None | Some(b'.' | b'[') => {}
            Some(c) if embedded && ends_embedded_name(c) => {}
            Some(_) => return Err(self.err(self.pos, "expected '.', '[' or the end after '*'")),
        }
        Ok((Segment::Wildcard, SegmentInfo { position: start, dotted: true }))
    }

    pub(super) fn parse_dot_name(&mut self, embedded: bool) -> Result<(Segment, SegmentInfo), PathSyntaxError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == b'.' || c == b'[' || (embedded && ends_embedded_name(c)) {
                break;
            }
            if is_space(c) {
                return Err(
                    self.err(self.pos, "a dot-notation name cannot contain whitespace; use ['...'] for such keys")
                );
            }
            if c == b'(' {
                break;
            }
            self.pos += 1;
        }
        if self.peek() == Some(b'(') {
            return Err(self.err(self.pos, "functions such as .length() are not supported"));
        }
        if self.pos == start {
            return Err(self.err(start, "expected a name after '.'"));
        }
        let key = &self.text[start..self.pos];
        let segment = Segment::Name(Name { key: key.into(), quote: '\'' });
        Ok((segment, SegmentInfo { position: start, dotted: true }))
    }

    pub(super) fn parse_bracket(&mut self) -> Result<(Segment, SegmentInfo), PathSyntaxError> {
        let start = self.pos;
        let info = SegmentInfo { position: start, dotted: false };
        self.pos += 1;
        self.skip_space();
        let segment = match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                let mut names = vec![Name { key: self.parse_quoted(q)?.into(), quote: char::from(q) }];
                loop {
                    self.skip_space();
                    match self.peek() {
                        Some(b']') => break,
                        Some(b',') => {
                            self.pos += 1;
                            self.skip_space();
                            match self.peek() {
                                Some(q @ (b'\'' | b'"')) => {
                                    names.push(Name { key: self.parse_quoted(q)?.into(), quote: char::from(q) })
                                }
                                _ => return Err(self.err(self.pos, "expected a quoted name after ','")),
                            }
                        }
                        _ => return Err(self.err(self.pos, "expected ',' or ']' after a quoted name")),
                    }
                }
                if names.len() == 1 {
                    match names.pop() {
                        Some(name) => Segment::Name(name),
                        None => return Err(self.err(start, "empty brackets")),
                    }
                } else {
                    Segment::Names(names.into_boxed_slice())
                }
            }
            Some(b'*') => {
                self.pos += 1;
                self.skip_space();
                if self.peek() != Some(b']') {
                    return Err(self.err(self.pos, "expected ']' after '*'"));
                }
                Segment::Wildcard
            }
            Some(b'?') => {
                self.pos += 1;
                self.expect(b'(', "'(' after '[?'")?;
                let expr = self.parse_or()?;
                self.expect(b')', "')' to close the filter")?;
                self.skip_space();
                if self.peek() != Some(b']') {
                    return Err(self.err(self.pos, "expected ']' after the filter's ')'"));
                }
                Segment::Filter(Box::new(expr))
            }
            Some(b'0'..=b'9' | b'-' | b'+' | b':') => self.parse_numeric_bracket()?,
            Some(b']') => return Err(self.err(self.pos, "empty brackets")),
            Some(b'(') => return Err(self.err(self.pos, "script expressions [(...)] are not supported")),
            _ => return Err(self.err(self.pos, "expected a quoted name, a number, '*' or '?(...)' inside '[...]'")),
        };
        // Every arm above stops on the closing bracket.
        self.pos += 1;
        Ok((segment, info))
    }

    /// `[n]`, `[n,m,...]`, `[a:b]`, `[a:b:c]`, `[:b]`, `[a:]`.
    pub(super) fn parse_numeric_bracket(&mut self) -> Result<Segment, PathSyntaxError> {
        let start = self.pos;
        let first = self.parse_int_opt()?;
        self.skip_space();
        if self.peek() == Some(b':') {
            self.pos += 1;
            self.skip_space();
            let to = self.parse_int_opt()?;
            self.skip_space();
            if self.peek() == Some(b':') {
                self.pos += 1;
                self.skip_space();
                // Jayway reads the step and then ignores it.
                let _step = self.parse_int_opt()?;
                self.skip_space();
            }
            if self.peek() != Some(b']') {
                return Err(self.err(self.pos, "expected ']' to close the slice"));
            }
            if first.is_none() && to.is_none() {
                return Err(self.err(start, "a slice needs a start or an end"));
            }
            return Ok(Segment::Slice { from: first, to });
        }
        let Some(first) = first else {
            return Err(self.err(start, "expected an index"));
        };
        let mut list = vec![first];
        loop {
            self.skip_space();
            match self.peek() {
                Some(b']') => break,
                Some(b',') => {
                    self.pos += 1;
                    self.skip_space();
                    match self.parse_int_opt()? {
                        Some(i) => list.push(i),
                        None => return Err(self.err(self.pos, "expected an index after ','")),
                    }
                }
                _ => return Err(self.err(self.pos, "expected ',' or ']' after an index")),
            }
        }
        Ok(if list.len() == 1 { Segment::Index(first) } else { Segment::Indexes(list.into_boxed_slice()) })
    }

    /// An optionally signed decimal integer in Java's `int` range, or `None` if there is no
    /// digit here.
    pub(super) fn parse_int_opt(&mut self) -> Result<Option<i32>, PathSyntaxError> {
        let start = self.pos;
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let digits = self.pos;
        let mut value: i64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            value = value.saturating_mul(10).saturating_add(i64::from(c - b'0'));
            self.pos += 1;
        }
        if self.pos == digits {
            if self.pos != start {
                return Err(self.err(self.pos, "expected a digit"));
            }
            return Ok(None);
        }
        let value = if negative { -value } else { value };
        match i32::try_from(value) {
            Ok(v) => Ok(Some(v)),
            Err(_) => Err(self.err(start, "the number is out of range")),
        }
    }

    /// A string in `q` quotes with backslash escapes; the cursor is on the opening quote.
    pub(super) fn parse_quoted(&mut self, q: u8) -> Result<String, PathSyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err(open, format_args!("unterminated string: missing closing {}", char::from(q))));
            };
            if c == q {
                out.push_str(&self.text[run..self.pos]);
                self.pos += 1;
                return Ok(out);
            }
            if c != b'\\' {
                self.pos += 1;
                continue;
            }
            out.push_str(&self.text[run..self.pos]);
            let escape_at = self.pos;
            self.pos += 1;
            let Some(e) = self.peek() else {
                return Err(self.err(escape_at, "unterminated escape"));
            };
            self.pos += 1;
            match e {
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => out.push(self.parse_unicode_escape(escape_at)?),
                _ => {
                    // Any other escaped character stands for itself (`\'`, `\\`, `\.`...).
                    let ch = self.text[self.pos - 1..].chars().next().unwrap_or('\\');
                    self.pos += ch.len_utf8() - 1;
                    out.push(ch);
                }
            }
            run = self.pos;
        }
    }

    pub(super) fn parse_hex4(&mut self, escape_at: usize) -> Result<u32, PathSyntaxError> {
        let hex = self.text.get(self.pos..self.pos + 4).filter(|_| self.pos + 4 <= self.end);
        let value =
            hex.filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit())).and_then(|h| u32::from_str_radix(h, 16).ok());
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.err(escape_at, "\\u must be followed by four hex digits")),
        }
    }

    pub(super) fn parse_unicode_escape(&mut self, escape_at: usize) -> Result<char, PathSyntaxError> {
        let first = self.parse_hex4(escape_at)?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.peek() == Some(b'\\') && self.peek_at(1) == Some(b'u') {
                self.pos += 2;
                let second = self.parse_hex4(escape_at)?;
                if !(0xDC00..0xE000).contains(&second) {
                    return Err(self.err(escape_at, "invalid surrogate pair in \\u escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            } else {
                return Err(self.err(escape_at, "unpaired surrogate in \\u escape"));
            }
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.err(escape_at, "invalid \\u escape"))
    }

    // --- filter expressions --------------------------------------------------------------

    pub(super) fn enter(&mut self) -> Result<(), PathSyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(self.pos, "the filter nests too deeply"));
        }
        Ok(())
    }

    pub(super) fn at_pair(&mut self, pair: &[u8; 2]) -> bool {
        self.skip_space();
        if self.peek() == Some(pair[0]) && self.peek_at(1) == Some(pair[1]) {
            self.pos += 2;
            true
        } else {
            false
        }
    }

    pub(super) fn parse_or(&mut self) -> Result<Expr, PathSyntaxError> {
        self.enter()?;
        let mut list = vec![self.parse_and()?];
        while self.at_pair(b"||") {
            list.push(self.parse_and()?);
        }
        self.depth -= 1;
        Ok(if list.len() == 1 { list.remove(0) } else { Expr::Or(list) })
    }

    pub(super) fn parse_and(&mut self) -> Result<Expr, PathSyntaxError> {
        let mut list = vec![self.parse_unary()?];
        while self.at_pair(b"&&") {
            list.push(self.parse_unary()?);
        }
        Ok(if list.len() == 1 { list.remove(0) } else { Expr::And(list) })
    }

    pub(super) fn parse_unary(&mut self) -> Result<Expr, PathSyntaxError> {
        self.enter()?;
        self.skip_space();
        let expr = match self.peek() {
            Some(b'!') if self.peek_at(1) != Some(b'=') => {
                let save = self.pos;
                self.pos += 1;
                self.skip_space();
                if matches!(self.peek(), Some(b'@' | b'$')) {
                    // `!@.a` is a negated existence test, read as a comparison operand.
                    self.pos = save;
                    self.parse_relation()?
                } else {
                    Expr::Not(Box::new(self.parse_unary()?))
                }
            }
            Some(b'(') => {
                self.pos += 1;
                let inner = self.parse_or()?;
                self.expect(b')', "')'")?;
                inner
            }
            _ => self.parse_relation()?,
        };
        self.depth -= 1;
        Ok(expr)
    }

    pub(super) fn parse_relation(&mut self) -> Result<Expr, PathSyntaxError> {
        self.skip_space();
        let start = self.pos;
        let negated = if self.peek() == Some(b'!') {
            self.pos += 1;
            self.skip_space();
            true
        } else {
            false
        };
        let left = self.parse_operand()?;
        let Some(op) = self.parse_operator()? else {
            return match left {
                Operand::Path(path) => Ok(Expr::Exists { path, negated }),
                Operand::Literal(_) => {
                    Err(self.err(start, "a literal alone is not a condition; compare it with something"))
                }
            };
        };
        if negated {
            return Err(self.err(start, "'!' applies to an existence test (!@.a) or to a parenthesised condition"));
        }
        let right = self.parse_operand()?;
        Ok(Expr::Compare { left, op, right })
    }

    pub(super) fn parse_operator(&mut self) -> Result<Option<Op>, PathSyntaxError> {
        self.skip_space();
        let start = self.pos;
        let symbol = |c: u8| matches!(c, b'=' | b'!' | b'<' | b'>' | b'~');
        let op = match self.peek() {
            Some(c) if symbol(c) => {
                while self.peek().is_some_and(symbol) {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    "==" => Op::Eq,
                    "!=" => Op::Ne,
                    "===" => Op::StrictEq,
                    "!==" => Op::StrictNe,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    "=~" => return Err(self.err(start, "regular expressions (=~) are not supported")),
                    other => return Err(self.err(start, format_args!("unknown operator '{other}'"))),
                }
            }
            Some(c) if c.is_ascii_alphabetic() => {
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                match self.text[start..self.pos].to_ascii_lowercase().as_str() {
                    "in" => Op::In,
                    "nin" => Op::Nin,
                    "subsetof" => Op::SubsetOf,
                    "anyof" => Op::AnyOf,
                    "noneof" => Op::NoneOf,
                    "size" => Op::Size,
                    "empty" => Op::Empty,
                    "contains" => Op::Contains,
                    "all" => Op::All,
                    other => return Err(self.err(start, format_args!("unknown operator '{other}'"))),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(op))
    }

    pub(super) fn parse_operand(&mut self) -> Result<Operand, PathSyntaxError> {
        self.skip_space();
        match self.peek() {
            Some(c @ (b'@' | b'$')) => {
                self.pos += 1;
                let segments: Vec<Segment> =
                    self.parse_segments(true)?.into_iter().map(|(segment, _)| segment).collect();
                let last = segments.len().saturating_sub(1);
                let definite = segments.iter().enumerate().all(|(i, s)| match s {
                    Segment::Name(_) | Segment::Index(_) => true,
                    Segment::Names(_) => i == last,
                    _ => false,
                });
                Ok(Operand::Path(SubPath { from_root: c == b'$', segments, definite }))
            }
            Some(b'/') => Err(self.err(self.pos, "regular expressions (/.../) are not supported")),
            Some(_) => Ok(Operand::Literal(self.parse_literal()?)),
            None => Err(self.err(self.pos, "expected a value")),
        }
    }

    /// A JSON value, leniently: strings may use single quotes, as Jayway allows.
    /// The members of an array or object literal, from its opening bracket (at `pos`) to
    /// `close`, each read by `member`, separated by commas.
    fn literal_members(
        &mut self,
        close: u8,
        what: &str,
        mut member: impl FnMut(&mut Self) -> Result<(), PathSyntaxError>,
    ) -> Result<(), PathSyntaxError> {
        self.pos += 1;
        self.skip_space();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            member(self)?;
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err(self.pos, format!("expected ',' or '{}' in {what}", char::from(close)))),
            }
        }
    }

    pub(super) fn parse_literal(&mut self) -> Result<Value, PathSyntaxError> {
        self.enter()?;
        self.skip_space();
        let start = self.pos;
        let value = match self.peek() {
            Some(q @ (b'\'' | b'"')) => Value::String(self.parse_quoted(q)?),
            Some(b'-' | b'0'..=b'9') => self.parse_number()?,
            Some(b'[') => {
                let mut items = Vec::new();
                self.literal_members(b']', "an array literal", |p| {
                    items.push(p.parse_literal()?);
                    Ok(())
                })?;
                Value::Array(items)
            }
            Some(b'{') => {
                let mut map = Map::new();
                self.literal_members(b'}', "an object literal", |p| {
                    p.skip_space();
                    let key = match p.peek() {
                        Some(q @ (b'\'' | b'"')) => p.parse_quoted(q)?,
                        _ => return Err(p.err(p.pos, "expected a quoted key in an object literal")),
                    };
                    p.expect(b':', "':' in an object literal")?;
                    let value = p.parse_literal()?;
                    map.insert(key, value);
                    Ok(())
                })?;
                Value::Object(map)
            }
            Some(c) if c.is_ascii_alphabetic() => {
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    other => return Err(self.err(start, format_args!("unexpected word '{other}'"))),
                }
            }
            _ => return Err(self.err(start, "expected a value")),
        };
        self.depth -= 1;
        Ok(value)
    }

    pub(super) fn parse_number(&mut self) -> Result<Value, PathSyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos > from
        };
        if !digits(self) {
            return Err(self.err(start, "expected a number"));
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integral = false;
            if !digits(self) {
                return Err(self.err(self.pos, "expected digits after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            integral = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.err(self.pos, "expected digits in the exponent"));
            }
        }
        let text = &self.text[start..self.pos];
        if integral {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::from(i));
            }
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| self.err(start, "the number is out of range"))
    }
}

/// Characters that end a dot-notation name inside a filter (operators, grouping, spacing).
pub(super) fn ends_embedded_name(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'<' | b'>' | b'~' | b')' | b'(' | b'&' | b'|' | b',' | b']' | b'/') || is_space(c)
}
