//! Step Functions ARNs: building them in AWS's form ([`Arns`]) and reading the ones clients
//! send. Parse, don't validate: a [`MachineRef`] or an [`ExecutionArn`] that exists has the
//! shape AWS accepts; making one from text fails with AWS's `InvalidArn`.

use std::fmt;

use crate::error::EngineError;

/// What a state machine ARN points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineRef {
    /// `...:stateMachine:NAME`
    Base { arn: String, name: String },
    /// `...:stateMachine:NAME:N`
    Version { base_arn: String, name: String, version: i64, arn: String },
    /// `...:stateMachine:NAME:ALIAS`
    Alias { base_arn: String, name: String, alias: String, arn: String },
}

impl MachineRef {
    /// Read a state machine, version or alias ARN.
    pub fn parse(arn: &str) -> Result<MachineRef, EngineError> {
        let (prefix, rest) = split(arn).ok_or_else(|| EngineError::invalid_arn(arn))?;
        if rest[0] != "stateMachine" {
            return Err(EngineError::wrong_resource_type(rest[0]));
        }
        let name = rest[1];
        if name.is_empty() || name.contains('/') {
            return Err(EngineError::invalid_arn(arn));
        }
        let base_arn = format!("{prefix}:stateMachine:{name}");
        match rest.get(2) {
            None => Ok(MachineRef::Base { arn: base_arn, name: name.to_owned() }),
            Some(q) if rest.len() == 3 && !q.is_empty() => match q.parse::<i64>() {
                Ok(version) => {
                    Ok(MachineRef::Version { base_arn, name: name.to_owned(), version, arn: arn.to_owned() })
                }
                Err(_) => Ok(MachineRef::Alias {
                    base_arn,
                    name: name.to_owned(),
                    alias: (*q).to_owned(),
                    arn: arn.to_owned(),
                }),
            },
            _ => Err(EngineError::invalid_arn(arn)),
        }
    }

    /// The ARN as given.
    pub fn arn(&self) -> &str {
        match self {
            MachineRef::Base { arn, .. } | MachineRef::Version { arn, .. } | MachineRef::Alias { arn, .. } => arn,
        }
    }

    /// The state machine's own ARN (without version or alias).
    pub fn base_arn(&self) -> &str {
        match self {
            MachineRef::Base { arn, .. } => arn,
            MachineRef::Version { base_arn, .. } | MachineRef::Alias { base_arn, .. } => base_arn,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            MachineRef::Base { name, .. } | MachineRef::Version { name, .. } | MachineRef::Alias { name, .. } => name,
        }
    }
}

/// The `arn:PARTITION:states:REGION:ACCOUNT:` prefix and the rest, split on `:`.
fn split(arn: &str) -> Option<(String, Vec<&str>)> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" || parts[2] != "states" || parts[1].is_empty() {
        return None;
    }
    Some((parts[..5].join(":"), parts[5..].to_vec()))
}

/// An execution's ARN: `...:execution:MACHINE:NAME` for a Standard execution,
/// `...:express:MACHINE:NAME:ID` for an Express one. On the wire it is text; in the engine's
/// operations it is this.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExecutionArn(String);

impl ExecutionArn {
    /// Read an execution ARN a client sent. Express execution ARNs are refused, as AWS does
    /// outside the APIs that take them (no record of an Express execution is kept).
    pub fn parse(arn: &str) -> Result<ExecutionArn, EngineError> {
        let (_, rest) = split(arn).ok_or_else(|| EngineError::invalid_arn(arn))?;
        match rest[0] {
            "execution" if rest.len() == 3 && !rest[1].is_empty() && !rest[2].is_empty() => {
                Ok(ExecutionArn(arn.to_owned()))
            }
            "express" => Err(EngineError::wrong_resource_type("express")),
            _ => Err(EngineError::invalid_arn(arn)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ExecutionArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ExecutionArn {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Check an activity ARN (`...:activity:NAME`).
pub fn check_activity(arn: &str) -> Result<(), EngineError> {
    let (_, rest) = split(arn).ok_or_else(|| EngineError::invalid_arn(arn))?;
    if rest[0] == "activity" && rest.len() == 2 && !rest[1].is_empty() {
        Ok(())
    } else {
        Err(EngineError::invalid_arn(arn))
    }
}

/// Check a Map Run ARN: `arn:aws:states:REGION:ACCOUNT:mapRun:MACHINE/LABEL:UUID`.
pub fn check_map_run(arn: &str) -> Result<(), EngineError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() == 8
        && parts[0] == "arn"
        && parts[2] == "states"
        && parts[5] == "mapRun"
        && parts[6].split_once('/').is_some_and(|(m, l)| !m.is_empty() && !l.is_empty())
        && !parts[7].is_empty();
    if ok {
        Ok(())
    } else {
        Err(EngineError::invalid_arn(arn))
    }
}

/// Builds ARNs for one region and account.
#[derive(Debug, Clone)]
pub struct Arns {
    pub region: String,
    pub account: String,
}

impl Arns {
    fn prefix(&self) -> String {
        format!("arn:aws:states:{}:{}", self.region, self.account)
    }

    pub fn state_machine(&self, name: &str) -> String {
        format!("{}:stateMachine:{name}", self.prefix())
    }

    pub fn execution(&self, machine: &str, name: &str) -> ExecutionArn {
        ExecutionArn(format!("{}:execution:{machine}:{name}", self.prefix()))
    }

    pub fn express_execution(&self, machine: &str, name: &str, id: &str) -> ExecutionArn {
        ExecutionArn(format!("{}:express:{machine}:{name}:{id}", self.prefix()))
    }

    pub fn activity(&self, name: &str) -> String {
        format!("{}:activity:{name}", self.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_arns_distinguish_versions_and_aliases() {
        let base = "arn:aws:states:us-east-1:123456789012:stateMachine:orders";
        assert!(matches!(MachineRef::parse(base), Ok(MachineRef::Base { .. })));
        assert!(matches!(MachineRef::parse(&format!("{base}:3")), Ok(MachineRef::Version { version: 3, .. })));
        assert!(matches!(MachineRef::parse(&format!("{base}:prod")), Ok(MachineRef::Alias { .. })));
        assert_eq!(
            MachineRef::parse(&format!("{base}:prod")).map(|m| m.base_arn().to_owned()).ok().as_deref(),
            Some(base)
        );
        for bad in ["orders", "arn:aws:states:us-east-1:1:activity:a", "arn:aws:lambda:us-east-1:1:function:f"] {
            assert!(MachineRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn express_execution_arns_are_refused() {
        assert!(ExecutionArn::parse("arn:aws:states:us-east-1:1:execution:m:e").is_ok());
        let e = ExecutionArn::parse("arn:aws:states:us-east-1:1:express:m:e:id").unwrap_err();
        assert_eq!(e.aws_name(), "InvalidArn");
        assert_eq!(e.to_string(), "Invalid Arn: 'Resource type not valid in this context: express'");
        assert!(ExecutionArn::parse("arn:aws:states:us-east-1:1:execution:m").is_err());
    }

    #[test]
    fn map_run_arns_are_checked() {
        assert!(check_map_run("arn:aws:states:us-east-1:123456789012:mapRun:machine/Map:0b1c2d3e").is_ok());
        for bad in [
            "arn:aws:states:us-east-1:123456789012:mapRun:machine:0b1c",
            "arn:aws:states:us-east-1:123456789012:execution:machine/Map:0b1c",
            "arn:aws:states:us-east-1:123456789012:mapRun:/Map:0b1c",
            "not an arn",
        ] {
            assert_eq!(check_map_run(bad).unwrap_err().aws_name(), "InvalidArn", "{bad}");
        }
    }
}
