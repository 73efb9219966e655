//! Where a path's data comes from: the state input (`$`), the context object (`$$`) or a
//! workflow variable (`$name`). [`PathRef`] is a path already routed; [`Scope`] is the data it
//! reads. Every module that reads data through a path (templates, intrinsics, Choice rules,
//! the `*Path` fields) goes through here, so the routing rules live in one place.

use std::cell::OnceCell;

use serde_json::{Map, Value};

use crate::jsonpath::{JsonPath, PathEvalError, PathSyntaxError};

/// A path with its data source decided.
#[derive(Debug, Clone, PartialEq)]
pub enum PathRef {
    /// `$...`: the state's input (or whatever document the field reads).
    Input(JsonPath),
    /// `$$...`: the context object; the path is stored rooted at `$`.
    Context(JsonPath),
    /// `$name...`: a workflow variable; the path is stored rooted at `$` (the variable's value).
    Variable { name: String, path: JsonPath, source: String },
}

impl PathRef {
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        if let Some(rest) = text.strip_prefix("$$") {
            return Ok(PathRef::Context(JsonPath::parse(&format!("${rest}"))?));
        }
        if let Some(rest) = text.strip_prefix('$') {
            let name_len =
                rest.char_indices().find(|&(_, c)| !(c.is_alphanumeric() || c == '_')).map_or(rest.len(), |(i, _)| i);
            if name_len > 0 {
                let name = &rest[..name_len];
                let path = JsonPath::parse(&format!("${}", &rest[name_len..]))?;
                return Ok(PathRef::Variable { name: name.to_owned(), path, source: text.to_owned() });
            }
        }
        Ok(PathRef::Input(JsonPath::parse(text)?))
    }

    /// The text as written in the definition.
    pub fn as_str(&self) -> String {
        match self {
            PathRef::Input(p) => p.as_str().to_owned(),
            PathRef::Context(p) => format!("${}", p.as_str()),
            PathRef::Variable { source, .. } => source.clone(),
        }
    }

    pub fn is_context(&self) -> bool {
        matches!(self, PathRef::Context(_))
    }
}

/// Why a path could not be read in a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Path(#[from] PathEvalError),
    #[error("The variable '{0}' is not defined")]
    UndefinedVariable(String),
}

/// Produces the context object on demand: most states never read `$$`, so it is only built
/// when a path asks for it.
pub trait ContextSource {
    fn context_value(&self) -> Value;
}

impl ContextSource for Value {
    fn context_value(&self) -> Value {
        self.clone()
    }
}

/// Where workflow variables are read from: one map in tests and `baton eval`, the chain of
/// frame scopes (a Map iteration's own, then the enclosing ones) in an execution.
pub trait VariableSource {
    fn variable(&self, name: &str) -> Option<&Value>;
}

impl VariableSource for Map<String, Value> {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// The documents a path can read while one state runs.
pub struct Scope<'a> {
    pub input: &'a Value,
    context: &'a dyn ContextSource,
    context_cache: OnceCell<Value>,
    pub variables: Option<&'a dyn VariableSource>,
}

impl<'a> Scope<'a> {
    pub fn new(input: &'a Value, context: &'a dyn ContextSource) -> Self {
        Self { input, context, context_cache: OnceCell::new(), variables: None }
    }

    pub fn with_variables(mut self, variables: &'a dyn VariableSource) -> Self {
        self.variables = Some(variables);
        self
    }

    /// The same context and variables, reading another input document.
    pub fn with_input<'b>(&'b self, input: &'b Value) -> Scope<'b>
    where
        'a: 'b,
    {
        Scope { input, context: self.context, context_cache: self.context_cache.clone(), variables: self.variables }
    }

    /// The context object's producer, for readers that build their own view of it (JSONata's
    /// `$states.context`).
    pub fn context_source(&self) -> &'a dyn ContextSource {
        self.context
    }

    pub fn context(&self) -> &Value {
        self.context_cache.get_or_init(|| self.context.context_value())
    }

    /// Evaluate a path with Jayway's result rules.
    pub fn eval(&self, path: &PathRef) -> Result<Value, LookupError> {
        match path {
            PathRef::Input(p) => Ok(p.eval(self.input)?),
            PathRef::Context(p) => Ok(p.eval(self.context())?),
            PathRef::Variable { name, path, .. } => {
                let value = self
                    .variables
                    .and_then(|vars| vars.variable(name))
                    .ok_or_else(|| LookupError::UndefinedVariable(name.clone()))?;
                Ok(path.eval(value)?)
            }
        }
    }

    /// Like [`Scope::eval`], but a definite path that finds nothing is `None`, not an error
    /// (Choice's `IsPresent`).
    pub fn lookup(&self, path: &PathRef) -> Result<Option<Value>, LookupError> {
        match self.eval(path) {
            Ok(v) => Ok(Some(v)),
            Err(LookupError::Path(PathEvalError::NoResults { .. })) => Ok(None),
            Err(LookupError::UndefinedVariable(_)) => Ok(None),
        }
    }
}

/// Randomness the caller hands in (UUIDs, `States.MathRandom`, retry jitter), so the
/// interpreter stays deterministic.
pub trait Randomness {
    fn next_u64(&mut self) -> u64;

    /// A version-4 UUID built from two draws.
    fn uuid_v4(&mut self) -> String {
        let hi = self.next_u64();
        let lo = self.next_u64();
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&hi.to_be_bytes());
        b[8..].copy_from_slice(&lo.to_be_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}

/// A small deterministic generator (SplitMix64) for tests and for seeding from a value.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl Randomness for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
