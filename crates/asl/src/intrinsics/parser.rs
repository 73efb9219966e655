//! The intrinsic call parser and the argument rules known from the text alone.

use super::*;

pub(super) struct Parser<'t> {
    pub(super) text: &'t str,
    pub(super) pos: usize,
}

pub(super) const EXPECTED_ARGUMENT: &str =
    "expected an argument (a quoted string, a number, true, false, null, a path or an intrinsic function call)";

pub(super) fn syntax(message: String) -> IntrinsicSyntaxError {
    IntrinsicSyntaxError { message }
}

pub(super) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '_'
}

pub(super) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

impl Parser<'_> {
    pub(super) fn peek(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(super) fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.bump();
        }
    }

    pub(super) fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        self.text.get(start..self.pos).unwrap_or_default()
    }

    pub(super) fn describe_next(&self) -> String {
        match self.peek() {
            Some(c) => format!("'{c}' at position {}", self.pos),
            None => "end of text".to_owned(),
        }
    }

    /// `Name(args)`; `depth` is the nesting level of this call, 1 for the outermost.
    pub(super) fn call(&mut self, depth: usize) -> Result<Call, IntrinsicSyntaxError> {
        let name_at = self.pos;
        let name = self.take_while(is_name_char).to_owned();
        if name.is_empty() {
            return Err(syntax(format!("expected an intrinsic function name, found {}", self.describe_next())));
        }
        let function = Function::from_name(&name)
            .ok_or_else(|| syntax(format!("unknown intrinsic function '{name}' at position {name_at}")))?;
        if depth > MAX_NESTING {
            return Err(syntax(format!(
                "intrinsic functions nest at most {MAX_NESTING} levels deep; '{name}' at position {name_at} is level {depth}"
            )));
        }
        self.skip_whitespace();
        if self.bump() != Some('(') {
            return Err(syntax(format!("expected '(' after '{name}' at position {name_at}")));
        }
        let mut args = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(')') {
            self.bump();
        } else {
            loop {
                self.skip_whitespace();
                args.push(self.arg(depth)?);
                self.skip_whitespace();
                match self.peek() {
                    Some(',') => {
                        self.bump();
                    }
                    Some(')') => {
                        self.bump();
                        break;
                    }
                    _ => {
                        return Err(syntax(format!(
                            "expected ',' or ')' in the arguments of {function}, found {}",
                            self.describe_next()
                        )))
                    }
                }
            }
        }
        let call = Call { function, args };
        check_call(&call)?;
        Ok(call)
    }

    pub(super) fn arg(&mut self, depth: usize) -> Result<Arg, IntrinsicSyntaxError> {
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                let word = self.take_while(is_name_char).to_owned();
                match word.as_str() {
                    "true" => Ok(Arg::Literal(Value::Bool(true))),
                    "false" => Ok(Arg::Literal(Value::Bool(false))),
                    "null" => Ok(Arg::Literal(Value::Null)),
                    _ => {
                        self.skip_whitespace();
                        let is_call = self.peek() == Some('(');
                        self.pos = start;
                        if !is_call {
                            return Err(syntax(format!("{EXPECTED_ARGUMENT}, found '{word}' at position {start}")));
                        }
                        Ok(Arg::Call(Box::new(self.call(depth + 1)?)))
                    }
                }
            }
            _ => Err(syntax(format!("{EXPECTED_ARGUMENT}, found {}", self.describe_next()))),
        }
    }

    pub(super) fn string(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        self.bump();
        let mut value = String::new();
        let mut holes = Vec::new();
        let mut bad_escape = None;
        loop {
            match self.bump() {
                None => {
                    return Err(syntax(format!("unterminated string starting at position {start}")));
                }
                Some('\'') => break,
                Some('\\') => match self.bump() {
                    Some(c @ ('\'' | '{' | '}' | '\\')) => value.push(c),
                    Some(c) => {
                        bad_escape.get_or_insert_with(|| {
                            format!(
                                "The string starting at position {start} of the intrinsic function has \
                                 the escape sequence '\\{c}'; only \\', \\{{, \\}} and \\\\ are allowed"
                            )
                        });
                        value.push('\\');
                        value.push(c);
                    }
                    None => {
                        return Err(syntax(format!("unterminated string starting at position {start}")));
                    }
                },
                Some('{') if self.peek() == Some('}') => {
                    self.bump();
                    holes.push(value.len());
                    value.push_str("{}");
                }
                Some(c) => value.push(c),
            }
        }
        Ok(match bad_escape {
            Some(message) => Arg::BadEscape(message),
            None => Arg::Str { value: Value::String(value), holes },
        })
    }

    /// A path runs to the first `,`, `)` or whitespace outside brackets; inside brackets
    /// (filters, quoted names) anything goes.
    pub(super) fn path(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            if let Some(q) = quote {
                self.bump();
                if c == '\\' {
                    self.bump();
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                ',' | ')' if depth == 0 => break,
                c if depth == 0 && is_space(c) => break,
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                '\'' | '"' if depth > 0 => quote = Some(c),
                _ => {}
            }
            self.bump();
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        PathRef::parse(text)
            .map(Arg::Path)
            .map_err(|e| syntax(format!("invalid path '{text}' at position {start}: {}", e.message)))
    }

    pub(super) fn number(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        let text = self.take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Number(n)) => Ok(Arg::Literal(Value::Number(normalize_zero(n)))),
            _ => Err(syntax(format!("invalid number '{text}' at position {start}"))),
        }
    }
}

/// The checks that need no data.
pub(super) fn check_call(call: &Call) -> Result<(), IntrinsicSyntaxError> {
    let f = call.function;
    let given = call.args.len();
    let (min, max) = f.arity();
    if given < min || max.is_some_and(|max| given > max) {
        let count = |n: usize| format!("{n} argument{}", if n == 1 { "" } else { "s" });
        let expected = match max {
            Some(0) => "no arguments".to_owned(),
            Some(max) if max == min => count(min),
            Some(max) => format!("{min} or {}", count(max)),
            None => format!("at least {}", count(min)),
        };
        return Err(syntax(format!("{f} takes {expected}, but was given {given}")));
    }
    match (f, call.args.first()) {
        (Function::Format, Some(Arg::Str { holes, .. })) if holes.len() != given - 1 => Err(syntax(format!(
            "the template of {f} has {} '{{}}' placeholder(s) but {} value argument(s) follow it",
            holes.len(),
            given - 1
        ))),
        (Function::Format, Some(Arg::Literal(v))) => {
            Err(syntax(format!("the first argument of {f} must be a string, not {}", crate::template::a_type_name(v))))
        }
        (Function::JsonToString, Some(arg)) if !matches!(arg, Arg::Path(_)) => {
            Err(syntax(format!("the argument of {f} must be a path")))
        }
        _ => Ok(()),
    }
}
